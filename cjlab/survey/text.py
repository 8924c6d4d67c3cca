"""Comment text: redaction of personal data, German and English stop words, a tokeniser.

:func:`redact` replaces e-mail addresses, phone numbers and customer names in free text;
:func:`make_analyzer` is the tokeniser the theme model uses (lower case, words of three or more
letters, stop words dropped, a small German -> English glossary so one topic voiced in both
languages becomes one theme).

Examples
--------
>>> redact("Bitte an max.muster@example.com schreiben, Max Muster", names=["Max Muster"])
'Bitte an [e-mail] schreiben, [name]'
>>> make_analyzer(glossary=GLOSSARY_DE_EN)("Die Lieferung kam leider viel zu spät")
['delivery', 'late']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

#: Small English stop-word list (our own).
STOP_WORDS_EN = frozenset(
    """
a about above after again against all also am an and any are aren as at be because been before
being below between both but by can cannot could couldn did didn do does doesn doing don down
during each few for from further get got had hadn has hasn have haven having he her here hers
herself him himself his how i if in into is isn it its itself just let me more most much must my
myself no nor not now of off on once only or other our ours ourselves out over own really same
she should shouldn so some such than that the their theirs them themselves then there these they
this those through to too under until up very was wasn we were weren what when where which while
who whom why will with won would wouldn you your yours yourself yourselves also even still ever
one two three again always never quite rather well yes ok okay thing things lot bit very
""".split()
)

#: Small German stop-word list (our own).
STOP_WORDS_DE = frozenset(
    """
aber alle allem allen aller alles als also am an ander andere anderem anderen anderer anderes auch
auf aus bei bin bis bist da damit dann das dass dein deine dem den denn der des dessen dich die
dies diese diesem diesen dieser dieses dir doch dort du durch ein eine einem einen einer eines
einfach er es etwas euch euer eure für gab gar gegen gewesen habe haben hat hatte hatten hier hin
hinter ich ihr ihre ihrem ihren ihrer ihres im immer in ins ist ja jede jedem jeden jeder jedes
jetzt kann kein keine keinem keinen keiner können könnte man manche mehr mein meine meinem meinen
meiner mich mir mit muss musste nach nicht nichts noch nun nur ob oder ohne schon sehr sein seine
seinem seinen seiner sich sie sind so solche soll sollte sondern sonst über um und uns unser unsere
unter viel vom von vor war waren warum was weil welche welchem welchen welcher wenn wer werde
werden wie wieder will wir wird wirklich wo wollen wurde wurden zu zum zur zwar zwischen ganz
leider total echt mal bitte danke gibt geht ging gut wäre würde hätte eher sowie kam kamen kommt
komme gerne
""".split()
)

STOP_WORDS = STOP_WORDS_EN | STOP_WORDS_DE

#: Small German -> English glossary of common customer-experience words (and English
#: inflections), so that a theme voiced in both languages becomes one theme. Extend or
#: replace it with ``CommentThemes(glossary=...)``; pass ``{}`` to switch it off.
GLOSSARY_DE_EN: dict[str, str] = {
    # delivery / logistics
    "lieferung": "delivery",
    "geliefert": "delivery",
    "liefern": "delivery",
    "lieferzeit": "delivery",
    "versand": "shipping",
    "versendet": "shipping",
    "paket": "parcel",
    "parcels": "parcel",
    "spät": "late",
    "später": "late",
    "verspätet": "late",
    "verspätung": "late",
    "delayed": "late",
    "schnell": "fast",
    "schnelle": "fast",
    "schneller": "fast",
    "quick": "fast",
    "quickly": "fast",
    "langsam": "slow",
    "dauert": "long",
    "lange": "long",
    "woche": "week",
    "wochen": "week",
    # service
    "kundenservice": "service",
    "kundendienst": "service",
    "support": "service",
    "unfreundlich": "rude",
    "unhelpful": "unhelpful",
    "geholfen": "help",
    "hilfe": "help",
    "helped": "help",
    "antwort": "answer",
    "reklamation": "complaint",
    "beschwerde": "complaint",
    "warteschleife": "hold",
    "waited": "wait",
    "warten": "wait",
    # checkout / payment
    "kasse": "checkout",
    "bezahlung": "payment",
    "zahlung": "payment",
    "bezahlen": "payment",
    "fehlgeschlagen": "failed",
    "fehler": "error",
    "gutschein": "voucher",
    "akzeptiert": "accepted",
    "funktioniert": "works",
    "abgebrochen": "aborted",
    # app
    "abgestürzt": "crash",
    "abstürzt": "crash",
    "stürzt": "crash",
    "absturz": "crash",
    "crashing": "crash",
    "crashed": "crash",
    "crashes": "crash",
    "bestellen": "ordering",
    # price
    "preis": "price",
    "preise": "price",
    "prices": "price",
    "teuer": "expensive",
    "günstiger": "cheaper",
    "billiger": "cheaper",
    "rabatt": "discount",
    "rabatte": "discount",
    "discounts": "discount",
    # praise
    "qualität": "quality",
    "zufrieden": "happy",
    "toll": "great",
    "tolle": "great",
    "super": "great",
    "schöne": "lovely",
    "schön": "lovely",
    "produkte": "product",
    "produkt": "product",
    "products": "product",
    "bestens": "perfect",
    "perfekt": "perfect",
}

#: An address starts where a run of address characters starts (the lookbehind): the same matches
#: as without it, but a long run with no "@" in it is scanned once, not from each of its characters.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\w)\+?\d[\d /().-]{6,}\d")
_TOKEN = r"(?u)\b[^\W\d_]{3,}\b"


def redact(text: str, names: Iterable[str] = ()) -> str:
    """Replace e-mail addresses, phone numbers and the given ``names`` by placeholders.

    Names are matched as whole words, longest first: names with a space (full names) in any
    letter case, single words (a first or last name on its own) only as written, so that a
    surname such as "Lange" does not blank the German word "lange"."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    t = _EMAIL.sub("[e-mail]", str(text))
    t = _PHONE.sub("[phone]", t)
    for nm in sorted(
        {str(n).strip() for n in names if n and str(n).strip()}, key=len, reverse=True
    ):
        flags = re.IGNORECASE if " " in nm else 0
        t = re.sub(rf"(?<!\w){re.escape(nm)}(?!\w)", "[name]", t, flags=flags)
    return t


def make_analyzer(
    extra_stop_words: Iterable[str] = (), glossary: dict[str, str] | None = None
) -> Callable[[str], list[str]]:
    """Tokeniser for comments: lower case, words of 3+ letters, e-mails removed, German and
    English stop words dropped, glossary applied (canonical terms are not stop words).

    Parameters
    ----------
    extra_stop_words : added to :data:`STOP_WORDS`.
    glossary : term -> canonical term (e.g. :data:`GLOSSARY_DE_EN`); None = none.

    Returns
    -------
    A function ``str -> list[str]`` (scikit-learn's ``analyzer=``).
    """
    stop = STOP_WORDS | {w.lower() for w in extra_stop_words}
    gl = {k.lower(): v for k, v in (glossary or {}).items()}
    pat = re.compile(_TOKEN)

    def analyze(doc: str) -> list[str]:
        toks = pat.findall(_EMAIL.sub(" ", str(doc)).lower())
        return [gl.get(t, t) for t in toks if t not in stop]

    return analyze


def name_list(customers: pd.DataFrame | None, column: str = "name") -> list[str]:
    """Full names and their parts (3+ letters) from the customers table, for :func:`redact`."""
    if customers is None or column not in customers:
        return []
    full = customers[column].dropna().astype(str).str.strip()
    parts = full.str.split().explode()
    return sorted(set(full) | {p for p in parts if len(p) >= 3})


__all__ = [
    "GLOSSARY_DE_EN",
    "STOP_WORDS",
    "STOP_WORDS_DE",
    "STOP_WORDS_EN",
    "make_analyzer",
    "name_list",
    "redact",
]
