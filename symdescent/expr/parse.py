"""A safe parser for user-written infix expressions.

No ``eval`` and no ``sympify``: the text is split by a small regular-expression
tokenizer and read by a precedence-climbing parser that knows only the
vocabulary of :mod:`symdescent.expr.ops`.  Anything else raises
:class:`~symdescent.errors.ExpressionError` naming the offending position.

Grammar (Python precedence; ``^`` is accepted for ``**``)::

    expr  := term (('+' | '-') term)*
    term  := unary (('*' | '/') unary)*
    unary := ('-' | '+') unary | power
    power := atom ('**' unary)?
    atom  := NUMBER | NAME | `QUOTED NAME` | NAME '(' expr [',' expr] ')' | '(' expr ')'

A call's name is a function name of the operator table
(:data:`symdescent.expr.ops.FUNCTION_ALIASES`: ``sin``, ``ln``, ``pow`` ...),
with as many arguments as the operator's arity.

Integer literals 1 to 5 and ``pi`` become exact literal tokens; every other
number becomes a constant placeholder holding its value.  The name ``C``
(unless a variable has that name) is a free constant placeholder.

A variable name that is not a plain identifier (``mass (kg)``, ``α``) is
written between backticks, as pandas' ``DataFrame.query`` does, for example
"`mass (kg)` * g"; :func:`format_name` does that and the printer uses it.

The parser builds a light tree of tuples and writes the prefix tokens once at
the end, so its time is linear in the input (building an :class:`Expression`
per operator copied and re-validated the whole token tuple each time).
"""

from __future__ import annotations

import re
from typing import Sequence

from symdescent.errors import ExpressionError, did_you_mean
from symdescent.expr import ops
from symdescent.expr.expression import Expression

MAX_LENGTH = 20_000
MAX_DEPTH = 200

_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
      | (?P<quoted>`[^`]*`)
      | (?P<op>\*\*|[-+*/^(),])
    )""",
    re.VERBOSE,
)

_BINARY_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}
_BINARY_OP = {"+": "add", "-": "sub", "*": "mul", "/": "div"}


def is_reserved(name: str) -> bool:
    """True for the grammar's own words, which cannot name a variable: function names
    (:data:`symdescent.expr.ops.FUNCTION_ALIASES`, ``pow`` included) and ``pi``."""
    return name in ops.FUNCTION_ALIASES or name == "pi"


_IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")

#: a parse tree node: ``(token, *children)``; a constant placeholder is ``("C", value)``
_Node = tuple


def tokenize(text: str) -> list[tuple[str, str, int]]:
    """Split ``text`` into ``(kind, text, position)`` triples."""
    out = []
    pos = 0
    n = len(text)
    while pos < n:
        if text[pos].isspace():
            pos += 1
            continue
        m = _TOKEN_RE.match(text, pos)
        if m is None or m.end() == pos:
            raise ExpressionError(f"unexpected character {text[pos]!r} at position {pos} in {text!r}")
        kind = m.lastgroup
        value = m.group(kind)
        start = m.start(kind)
        if kind == "op" and value == "^":
            value = "**"
        elif kind == "quoted":
            value = value[1:-1]
        out.append((kind, value, start))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str, names: dict[str, int] | None):
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.names = names
        self.depth = 0

    # -- helpers ------------------------------------------------------------
    def peek(self, k: int = 0):
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else ("end", "", len(self.text))

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, value: str):
        kind, text, pos = self.take()
        if text != value or kind != "op":
            found = "end of input" if kind == "end" else repr(text)
            raise ExpressionError(f"expected {value!r} at position {pos}, found {found} in {self.text!r}")

    def enter(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"expression nested deeper than {MAX_DEPTH} levels")

    # -- grammar ------------------------------------------------------------
    def parse(self) -> Expression:
        if not self.toks:
            raise ExpressionError("empty expression string")
        e = self.expr(1)
        kind, text, pos = self.peek()
        if kind != "end":
            raise ExpressionError(f"unexpected {text!r} at position {pos} in {self.text!r}")
        return _to_expression(e)

    def expr(self, min_prec: int) -> _Node:
        self.enter()
        left = self.unary()
        while True:
            kind, text, _ = self.peek()
            prec = _BINARY_PREC.get(text) if kind == "op" else None
            if prec is None or prec < min_prec:
                break
            self.take()
            right = self.expr(prec + 1)
            left = (_BINARY_OP[text], left, right)
        self.depth -= 1
        return left

    def unary(self) -> _Node:
        self.enter()
        kind, text, _ = self.peek()
        if kind == "op" and text in "+-" and text:
            self.take()
            nkind, ntext, npos = self.peek()
            after = self.peek(1)
            is_float = nkind == "number" and any(c in ntext for c in ".eE")
            if text == "-" and is_float and after[1] != "**":
                self.take()
                _, value = _number(ntext, npos)  # a float literal is a constant; its finiteness is checked there
                result = (ops.CONST, -value)
            else:
                operand = self.unary()
                result = operand if text == "+" else ("neg", operand)
        else:
            result = self.power()
        self.depth -= 1
        return result

    def power(self) -> _Node:
        base = self.atom()
        kind, text, _ = self.peek()
        if kind == "op" and text == "**":
            self.take()
            exponent = self.unary()
            return ("pow", base, exponent)
        return base

    def atom(self) -> _Node:
        kind, text, pos = self.take()
        if kind == "number":
            return _number(text, pos)
        if kind == "quoted":
            return self.variable(text, pos)
        if kind == "name":
            if self.peek()[1] == "(" and self.peek()[0] == "op":
                return self.call(text, pos)
            return self.name(text, pos)
        if kind == "op" and text == "(":
            self.enter()
            e = self.expr(1)
            self.depth -= 1
            self.expect(")")
            return e
        found = "end of input" if kind == "end" else repr(text)
        raise ExpressionError(f"expected a number, name or '(' at position {pos}, found {found} in {self.text!r}")

    def call(self, fname: str, pos: int) -> _Node:
        self.take()  # "("
        self.enter()
        args = [self.expr(1)]
        while self.peek()[1] == ",":
            self.take()
            args.append(self.expr(1))
        self.expect(")")
        self.depth -= 1
        op = ops.FUNCTION_ALIASES.get(fname)
        if op is None:
            raise ExpressionError(
                f"unknown function {fname!r} at position {pos}{did_you_mean(fname, ops.FUNCTION_ALIASES)}"
            )
        n = ops.arity(op)
        if len(args) != n:
            raise ExpressionError(f"{fname} takes {n} argument{'s' if n > 1 else ''}, got {len(args)} "
                                  f"at position {pos}")
        return (op, *args)

    def name(self, text: str, pos: int) -> _Node:
        if text == "pi":
            return ("pi",)
        if self.names is not None and text in self.names:
            return (f"x{self.names[text]}",)
        if text == ops.CONST:  # a free constant placeholder, unless a variable is named C
            return (ops.CONST, 1.0)
        return self.variable(text, pos)

    def variable(self, text: str, pos: int) -> _Node:
        """A variable by name (bare or between backticks), or an error naming the known ones."""
        if self.names is not None:
            if text in self.names:
                return (f"x{self.names[text]}",)
            raise ExpressionError(
                f"unknown variable {text!r} at position {pos}{did_you_mean(text, self.names)}; "
                f"variables: {', '.join(map(format_name, self.names))}"
            )
        m = re.fullmatch(r"x(\d+)", text)
        if m and len(m.group(1)) <= 4:
            return (f"x{int(m.group(1))}",)
        raise ExpressionError(
            f"unknown name {text!r} at position {pos}: without variable names, variables are x0, x1, ..."
            f"{did_you_mean(text, ops.FUNCTION_ALIASES)}"
        )


def _to_expression(root: _Node) -> Expression:
    """Write a parse tree as prefix tokens, without recursion (a sum of 10,000 terms is 10,000 deep)."""
    tokens: list[str] = []
    constants: list[float] = []
    stack = [root]
    while stack:
        node = stack.pop()
        tokens.append(node[0])
        if node[0] == ops.CONST:
            constants.append(node[1])
        else:
            stack.extend(reversed(node[1:]))
    return Expression(tuple(tokens), tuple(constants))


def _number(text: str, pos: int) -> _Node:
    try:
        value = float(text)
    except ValueError:  # pragma: no cover - the regex only admits valid numbers
        raise ExpressionError(f"bad number {text!r} at position {pos}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ExpressionError(f"number {text!r} at position {pos} is not finite")
    if text in ops.LITERALS:
        return (text,)
    return (ops.CONST, value)


def format_name(name: str) -> str:
    """A variable name as formulas write it: bare when a plain identifier, else between backticks.

    Examples
    --------
    >>> format_name("theta"), format_name("mass (kg)")
    ('theta', '`mass (kg)`')
    """
    return name if _IDENT.fullmatch(name) else f"`{name}`"


def check_variable_names(names: Sequence[str]) -> dict[str, int]:
    """Validate variable names; return name -> column index.

    Any text is a name (``mass (kg)``, ``E``, ``λ``), written between backticks
    in formulas where it is not a plain identifier (see :func:`format_name`).
    Refused, with an :class:`~symdescent.errors.ExpressionError` (the data
    layer reports it as a :class:`~symdescent.errors.DataError`): empty names, names
    with unprintable characters, backticks or leading or trailing spaces (they
    could not be written back unambiguously), the parser's own words (function
    names, ``pi``, ``pow``) and repeated names.

    Examples
    --------
    >>> check_variable_names(["mass (kg)", "E"])
    {'mass (kg)': 0, 'E': 1}
    """
    names = [str(n) for n in names]
    out: dict[str, int] = {}
    for i, n in enumerate(names):
        if not n.strip():
            raise ExpressionError(f"variable name {n!r} (column {i}) is empty; give every column a name")
        if not n.isprintable():
            raise ExpressionError(f"variable name {n!r} holds a control character (unprintable); rename the column")
        if "`" in n:
            raise ExpressionError(f"variable name {n!r} holds a backtick, which quotes names in formulas; "
                                  "rename the column")
        if n != n.strip():
            raise ExpressionError(f"variable name {n!r} has a leading or trailing space; strip it")
        if is_reserved(n):
            raise ExpressionError(f"variable name {n!r} clashes with a function or constant name; rename the column")
        if n in out:
            raise ExpressionError(f"variable name {n!r} is given twice")
        out[n] = i
    return out


def parse(text: str, variable_names: Sequence[str] | None = None) -> Expression:
    """Parse an infix expression string safely.

    Parameters
    ----------
    text : str
        For example ``"m * v**2 / 2"`` or ``"exp(-x0) * sin(x1)"``.
    variable_names : sequence of str, optional
        Names of the columns of ``X`` in order.  Without them, variables are
        written ``x0``, ``x1``, ...

    Raises
    ------
    ExpressionError
        For anything that is not a well-formed expression over the vocabulary.

    Examples
    --------
    >>> parse("m * v**2 / 2", ["m", "v"]).tokens
    ('div', 'mul', 'x0', 'pow', 'x1', '2', '2')
    """
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression string longer than {MAX_LENGTH} characters")
    names = check_variable_names(variable_names) if variable_names is not None else None
    try:
        return _Parser(text, names).parse()
    except RecursionError:  # MAX_DEPTH bounds the recursion; this is for a caller already deep in its stack
        raise ExpressionError("expression nested too deeply for the stack left to the parser") from None
