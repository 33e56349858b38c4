"""The shape CONTRIBUTING promises, checked: small modules, and channels named in their packages.

``lint-imports`` (run by ``make test``) checks the layers; this checks what it cannot see.
"""

from __future__ import annotations

import ast
from pathlib import Path

from messaging.channels.registry import kinds

ROOT = Path(__file__).resolve().parent.parent
APPS = ("bounces", "clients", "core", "messaging", "pimsy_messaging")
MAX_LINES = 600
# Outside messaging/channels/ at most this many modules may decide anything by a channel's name.
MAX_CHANNEL_MODULES = 4
# The provider simulators stand in for Twilio, the fax API and an SMTP server: their "fax" and
# "sms" are the providers' products, not our channels.
NOT_PRODUCT = ("messaging/simulators/", "messaging/simulator_views.py")


def production_modules() -> list[Path]:
    found = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if "/tests/" in rel or "/migrations/" in rel:
                continue
            found.append(path)
    return found


def test_no_production_module_is_over_600_lines():
    long = {
        p.relative_to(ROOT).as_posix(): n
        for p in production_modules()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


# The enums whose members are channels: messaging.models.Channel (built from the registry) and
# bounces.models.DnsChannel (the Do-Not-Send list's vocabulary). ``Channel.SMS`` decides as "sms" does.
CHANNEL_ENUMS = frozenset({"Channel", "DnsChannel"})


class _ChannelDecisions(ast.NodeVisitor):
    """Channels named to *decide* on one: a string constant equal to a channel, or a member of a
    channel enum (``Channel.SMS``, ``DnsChannel.EMAIL``), compared (``channel == "sms"``,
    ``in {"sms", ...}``), a dict's key (``{"sms": ...}``) or passed as ``channel=`` / ``channels=``.
    Field names (``"email"`` in a form's fields, ``row["email"]``) and choices tuples are not decisions."""

    def __init__(self, names: set[str]) -> None:
        self.names = names
        self.members = {name.upper(): name for name in names}
        self.hits: list[tuple[int, str]] = []

    def _channel(self, node: ast.AST | None) -> str:
        """The channel ``node`` names ("" for none): ``"sms"``, ``Channel.SMS``, ``models.DnsChannel.SMS``."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in self.names:
            return node.value
        if isinstance(node, ast.Attribute) and node.attr in self.members:
            enum = node.value
            enum_name = enum.id if isinstance(enum, ast.Name) else enum.attr if isinstance(enum, ast.Attribute) else ""
            if enum_name in CHANNEL_ENUMS:
                return self.members[node.attr]
        return ""

    def _note(self, node: ast.AST | None) -> None:
        if name := self._channel(node):
            self.hits.append((getattr(node, "lineno", 0), name))
        elif isinstance(node, (ast.Set, ast.Tuple, ast.List)):
            for element in node.elts:
                self._note(element)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") in {"frozenset", "set"}:
            for arg in node.args:
                self._note(arg)

    def visit_Compare(self, node: ast.Compare) -> None:
        for side in (node.left, *node.comparators):
            self._note(side)
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        # A table over channels ({"sms": ..., "voice": ...}, {Channel.SMS: ...}); one string key that
        # happens to be "email" is a field name ({"email": address}), one enum member is not.
        keys = [k for k in node.keys if self._channel(k)]
        strings = [k for k in keys if isinstance(k, ast.Constant)]
        if len(strings) >= 2 or len(keys) > len(strings):
            for key in keys:
                self._note(key)
        self.generic_visit(node)

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg in {"channel", "channels"}:
            self._note(node.value)
        self.generic_visit(node)


def channel_decisions() -> dict[str, list[tuple[int, str]]]:
    names = set(kinds())
    found: dict[str, list[tuple[int, str]]] = {}
    for path in production_modules():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("messaging/channels/") or rel.startswith(NOT_PRODUCT):
            continue
        visitor = _ChannelDecisions(names)
        visitor.visit(ast.parse(path.read_text()))
        if visitor.hits:
            found[rel] = visitor.hits
    return found


def test_channels_are_named_in_their_packages():
    """Adding a channel is one package under messaging/channels/, one registry entry and a
    migration: the rest of the code asks the registry instead of naming channels."""
    found = channel_decisions()
    assert len(found) <= MAX_CHANNEL_MODULES, found


def test_the_decision_finder_finds_decisions():
    source = (
        'if channel == "sms": pass\nLIMITS = {"fax": 1, "sms": 2}\nf(channel="voice")\n'
        'FIELDS = ("email", "fax")\nrow = {"email": x}\n'
    )
    visitor = _ChannelDecisions({"sms", "fax", "voice", "email"})
    visitor.visit(ast.parse(source))
    assert visitor.hits == [(1, "sms"), (2, "fax"), (2, "sms"), (3, "voice")]


def test_the_decision_finder_finds_enum_members_as_it_finds_strings():
    source = (
        "if channel == DnsChannel.EMAIL: pass\n"  # 1: compared
        "ok = kind in {Channel.SMS, Channel.VOICE}\n"  # 2: membership
        "RATES = {Channel.FAX: 1}\n"  # 3: a dict key
        "add(channel=DnsChannel.SMS)\n"  # 4: keyword
        "found = models.Channel.VOICE != kind\n"  # 5: through a module
        "CHOICES = DnsChannel.choices\nfield = forms.ChoiceField(initial=DnsChannel.EMAIL)\n"  # 6, 7: not decisions
        "x = Other.SMS == kind\nlabel = Channel.SMS.label\n"  # 8: another enum; 9: not compared
    )
    visitor = _ChannelDecisions({"sms", "fax", "voice", "email"})
    visitor.visit(ast.parse(source))
    assert visitor.hits == [(1, "email"), (2, "sms"), (2, "voice"), (3, "fax"), (4, "sms"), (5, "voice")]
