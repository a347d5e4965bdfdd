"""A Jinja environment that renders untrusted chat templates safely and within bounds.

Chat templates come from model repositories and proxy configs, so they are treated as hostile:

- they run in ``jinja2.sandbox.ImmutableSandboxedEnvironment`` (no attribute starting with ``_``, no
  mutation of lists and dicts), so ``{{ ''.__class__.__mro__ }}`` or ``cycler.__init__.__globals__``
  raise ``SecurityError`` instead of reaching Python internals;
- every value they build is bounded (``MAX_CHARS``): string and list operators, concatenation with
  ``~``, method and filter calls and captured output are checked before they allocate, so no template
  renders gigabytes;
- the work they do is bounded (``MAX_STEPS`` loop iterations, calls and operations, ``MAX_SECONDS``),
  so no loop nest or recursion can hold the event loop.

Otherwise the environment is Hugging Face's (``transformers`` ``apply_chat_template``): ``trim_blocks``,
``lstrip_blocks``, the ``loopcontrols`` extension, ``raise_exception``, ``strftime_now``, a ``tojson``
that keeps non-ASCII text, and ``{% generation %}`` blocks accepted (they only mark training masks).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import datetime
from functools import wraps
from typing import Any

import jinja2
import jinja2.ext
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

#: The longest string or list a template may build, and the longest prompt it may render (characters).
MAX_CHARS = 16_000_000
#: The most steps (loop iterations, calls, operators, filters) one render may take, and its longest time.
MAX_STEPS = 2_000_000
MAX_SECONDS = 2.0
#: The most characters one render may build in all (kept or thrown away).
MAX_BUILT = 4 * MAX_CHARS
#: The longest template source accepted (official templates are a few kilobytes).
MAX_SOURCE_CHARS = 256_000
#: The largest indent ``tojson`` may use.
MAX_JSON_INDENT = 16
#: The filter every loop's items pass through (a name no template can collide with by accident).
COUNTED = "patchwire_counted_loop"

_NUMBERS = re.compile(r"\d+")


class TemplateRefused(Exception):
    """The template called ``raise_exception(message)``: it refuses this conversation."""


class TemplateTooLarge(Exception):
    """The template tried to build or render more than the bounds allow."""


class TooMuchWork(Exception):
    """The template took more than ``MAX_STEPS`` steps or ``MAX_SECONDS``."""


def raise_exception(message: str) -> None:
    raise TemplateRefused(message)


def strftime_now(format: str) -> str:
    return datetime.now().strftime(format)


def tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: Any = None,
    sort_keys: bool = False,
) -> str:
    # Hugging Face's tojson: Jinja's own escapes <, >, & and ' for HTML, which would change the prompt.
    if indent is not None and (not isinstance(indent, int) or indent > MAX_JSON_INDENT):
        raise TemplateTooLarge(f"tojson indent {indent!r} is above {MAX_JSON_INDENT}")
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


class GenerationBlocks(jinja2.ext.Extension):
    """``{% generation %}...{% endgeneration %}`` renders its body (it marks what a model should learn)."""

    tags = {"generation"}

    def parse(self, parser: Any) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


# -- bounds --------------------------------------------------------------------------------------


_SIZED = (str, bytes, list, tuple, dict, set, frozenset)


def _length(value: Any) -> int:
    return len(value) if isinstance(value, _SIZED) else 0


class Budget:
    """What one render has spent: characters built and steps taken, and when its time is up."""

    __slots__ = ("built", "deadline", "steps")

    def __init__(self) -> None:
        self.built = 0
        self.steps = 0
        self.deadline = time.monotonic() + MAX_SECONDS


_budget: ContextVar[Budget | None] = ContextVar("patchwire_template_budget", default=None)


def _spend(size: int) -> None:
    # Every value built counts, kept or not: what a render can hold is bounded by what it built.
    budget = _budget.get()
    if budget is not None:
        budget.built += size
        if budget.built > MAX_BUILT:
            raise TemplateTooLarge(f"more than {MAX_BUILT} characters built in one render")


def _charge(size: int) -> None:
    """One step that built ``size`` characters (``_step`` and ``_spend`` in one)."""
    budget = _budget.get()
    if budget is not None:
        budget.built += size
        budget.steps += 1
        if budget.built > MAX_BUILT:
            raise TemplateTooLarge(f"more than {MAX_BUILT} characters built in one render")
        if budget.steps & 1023 == 0 and (budget.steps > MAX_STEPS or time.monotonic() > budget.deadline):
            raise TooMuchWork(f"more than {min(budget.steps, MAX_STEPS)} steps or {MAX_SECONDS:g} s")


def _step() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.steps += 1
        if budget.steps & 1023 == 0 and (budget.steps > MAX_STEPS or time.monotonic() > budget.deadline):
            raise TooMuchWork(f"more than {min(budget.steps, MAX_STEPS)} steps or {MAX_SECONDS:g} s")


def counted(items: Any) -> Iterable[Any]:
    """A loop's items, each one a step (every ``{% for %}`` iterates through this)."""
    for item in items:
        _step()
        yield item


def _check_result(value: Any) -> Any:
    size = _length(value)
    if size > MAX_CHARS:
        raise TemplateTooLarge(f"a value of {size} items, above {MAX_CHARS}")
    _spend(size)
    if isinstance(value, int) and value.bit_length() > 8 * MAX_CHARS // 100:
        raise TemplateTooLarge("an integer too large to print")
    return value


def _check_ints(values: Iterable[Any]) -> None:
    for value in values:
        if type(value) is int and abs(value) > MAX_CHARS:
            raise TemplateTooLarge(f"the number {value} is above {MAX_CHARS}")
        if isinstance(value, tuple):
            _check_ints(value)


def _check_format_string(text: Any) -> None:
    # Widths in '%9999999999s' or '{:>9999999999}' allocate before anything could check the result.
    if isinstance(text, str):
        for digits in _NUMBERS.findall(text):
            if len(digits) > 8 or int(digits) > MAX_CHARS:
                raise TemplateTooLarge(f"a format width {digits} above {MAX_CHARS}")


def _expect(size: int) -> None:
    if size > MAX_CHARS:
        raise TemplateTooLarge(f"a value of about {size} characters, above {MAX_CHARS}")


def _joined_size(items: Any, separator: Any) -> int:
    if not isinstance(items, list | tuple | str):
        return 0
    sep = len(separator) if isinstance(separator, str) else 0
    return sum(len(i) if isinstance(i, str) else 24 for i in items) + sep * len(items)


def _check_growth(name: str, subject: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Before a string operation that can grow its input far beyond its arguments: its likely size."""
    size = _length(subject)
    if name == "replace":
        new = args[1] if len(args) > 1 else kwargs.get("new", "")
        _expect(size + (size + 1) * _length(new))
    elif name in ("ljust", "rjust", "center", "zfill"):
        width = args[0] if args else kwargs.get("width", 0)
        _expect(max(size, width if isinstance(width, int) else 0))
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        _expect(size * max(1, tabsize if isinstance(tabsize, int) else 1))
    elif name == "indent":
        width = args[0] if args else kwargs.get("width", 4)
        _expect(size * (1 + (width if isinstance(width, int) else _length(width))))
    elif name == "join":
        if isinstance(subject, str):  # str.join(items)
            _expect(_joined_size(args[0] if args else (), subject))
        else:  # the join filter: items|join(separator)
            _expect(_joined_size(subject, args[0] if args else kwargs.get("d", "")))
    elif name in ("format", "format_map"):
        _check_format_string(subject)


class BoundedCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` to a bounded join (Jinja's own join cannot be intercepted)."""

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class ChatTemplateSandbox(ImmutableSandboxedEnvironment):
    code_generator_class = BoundedCodeGenerator
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # Every loop iterates through `counted`, so each iteration is a step of the budget.
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, COUNTED, [], [], None, None, lineno=loop.lineno)
        return tree

    def __init__(self) -> None:
        super().__init__(
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=[jinja2.ext.loopcontrols, GenerationBlocks],
            autoescape=False,
        )
        self.globals.pop("lipsum", None)  # lipsum(n) writes n paragraphs: nothing a chat template needs
        self.globals["raise_exception"] = raise_exception
        self.globals["strftime_now"] = strftime_now
        self.filters["tojson"] = tojson  # type: ignore[has-type]
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}  # type: ignore[has-type]
        self.filters[COUNTED] = counted
        # Captured output ({% set x %}...{% endset %}, macro bodies, the whole render) is joined here.
        self.concat = _bounded_concat  # type: ignore[assignment]

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # Jinja returns an undefined value that only fails when used further; refuse at once instead.
        raise SecurityError(f"access to attribute {attribute!r} of a {type(obj).__name__!r} object is unsafe")

    @staticmethod
    def bounded_join(parts: tuple[Any, ...]) -> str:
        texts = [p if type(p) is str else str(p) for p in parts]
        size = sum(map(len, texts))
        _expect(size)
        _charge(size)
        return "".join(texts)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "+" and type(left) is str and type(right) is str:  # most of every template
            size = len(left) + len(right)
            _expect(size)
            _charge(size)
            return left + right
        _step()
        if operator == "+":
            _expect(_length(left) + _length(right))
            return _check_result(left + right)
        if operator != "**":
            _check_ints((left, right))
        if operator == "*":
            count = right if isinstance(right, int) else left if isinstance(left, int) else 1
            _expect(max(_length(left), _length(right)) * max(1, count))
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int):
                _expect(max(1, abs(left).bit_length()) * max(0, right) // 8)
        elif operator == "%":
            _check_format_string(left)
            _check_ints(right if isinstance(right, tuple) else (right,))
        return _check_result(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _step()
        _check_ints(args)
        _check_ints(kwargs.values())
        method = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        subject = getattr(method, "__self__", None)
        if isinstance(subject, str | list | tuple):
            _check_growth(getattr(method, "__name__", ""), subject, args, kwargs)
        return _check_result(super().call(__context, __obj, *args, **kwargs))


#: What Jinja passes a filter before its value (pass_context, pass_eval_context, pass_environment).
_PASSED = (jinja2.runtime.Context, jinja2.nodes.EvalContext, jinja2.Environment)


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(function)  # keeps Jinja's pass_context/pass_environment marks
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _step()
        _check_ints(args)
        _check_ints(kwargs.values())
        plain = [a for a in args if not isinstance(a, _PASSED)]  # the value, then the filter's own
        if plain:
            _check_growth(name, plain[0], tuple(plain[1:]), kwargs)
        return _check_result(function(*args, **kwargs))

    return bounded


def _bounded_concat(parts: Iterable[str]) -> str:
    collected: list[str] = []
    size = 0
    for part in parts:
        size += len(part)
        if size > MAX_CHARS:
            raise TemplateTooLarge(f"more than {MAX_CHARS} characters of output")
        collected.append(part)
    return "".join(collected)


def run_bounded(render: Callable[[], str]) -> str:
    """``render()`` with a fresh budget of steps, characters and time (``TooMuchWork``,
    ``TemplateTooLarge`` past it)."""
    token = _budget.set(Budget())
    try:
        return render()
    finally:
        _budget.reset(token)
