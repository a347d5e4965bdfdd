from patchwire.cli import main

raise SystemExit(main())
