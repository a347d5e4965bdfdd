"""``patchwire bench``: concurrent predictions against the simulator, beside a bare aiohttp baseline.

``cli`` adds the command, ``run`` drives one benchmark (simulator process, one worker process per
side), ``worker`` runs one side, ``sides/`` holds the clients compared (the baseline, patchwire,
LiteLLM), ``workload`` issues the calls, ``measure`` and ``report`` turn samples into figures.
"""
