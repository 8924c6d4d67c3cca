"""Themes in free-text comments (German and English) with TF-IDF + NMF.

Each theme gets its top terms, its share of comments, the mean NPS (0–10) and NPS
(points) of its commenters, a few example comments, and — for themes whose commenters
are more often detractors than average — a priority ``share × NPS gap`` (gap = overall NPS
of commenters minus the theme's NPS, in points). Detractor themes come first: the
pain-point list.

Example comments are redacted (e-mail addresses, phone numbers and any customer names
passed in are replaced) but *not* HTML-escaped here: the report helpers in
:mod:`cjlab.notebook` escape every cell, so ``<script>`` shows as text.

Examples
--------
>>> redact("Bitte an max.muster@example.com schreiben, Max Muster", names=["Max Muster"])
'Bitte an [e-mail] schreiben, [name]'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ._common import SCALES, SurveyInputError, check_scores

#: Small English stop-word list (our own).
STOP_WORDS_EN = frozenset("""
a about above after again against all also am an and any are aren as at be because been before
being below between both but by can cannot could couldn did didn do does doesn doing don down
during each few for from further get got had hadn has hasn have haven having he her here hers
herself him himself his how i if in into is isn it its itself just let me more most much must my
myself no nor not now of off on once only or other our ours ourselves out over own really same
she should shouldn so some such than that the their theirs them themselves then there these they
this those through to too under until up very was wasn we were weren what when where which while
who whom why will with won would wouldn you your yours yourself yourselves also even still ever
one two three again always never quite rather well yes ok okay thing things lot bit very
""".split())

#: Small German stop-word list (our own).
STOP_WORDS_DE = frozenset("""
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
""".split())

STOP_WORDS = STOP_WORDS_EN | STOP_WORDS_DE

#: Small German -> English glossary of common customer-experience words (and English
#: inflections), so that a theme voiced in both languages becomes one theme. Extend or
#: replace it with ``CommentThemes(glossary=...)``; pass ``{}`` to switch it off.
GLOSSARY_DE_EN: dict[str, str] = {
    # delivery / logistics
    "lieferung": "delivery", "geliefert": "delivery", "liefern": "delivery", "lieferzeit": "delivery",
    "versand": "shipping", "versendet": "shipping", "paket": "parcel", "parcels": "parcel",
    "spät": "late", "später": "late", "verspätet": "late", "verspätung": "late", "delayed": "late",
    "schnell": "fast", "schnelle": "fast", "schneller": "fast", "quick": "fast", "quickly": "fast",
    "langsam": "slow", "dauert": "long", "lange": "long", "woche": "week", "wochen": "week",
    # service
    "kundenservice": "service", "kundendienst": "service", "support": "service",
    "unfreundlich": "rude", "unhelpful": "unhelpful", "geholfen": "help", "hilfe": "help",
    "helped": "help", "antwort": "answer", "reklamation": "complaint", "beschwerde": "complaint",
    "warteschleife": "hold", "waited": "wait", "warten": "wait",
    # checkout / payment
    "kasse": "checkout", "bezahlung": "payment", "zahlung": "payment", "bezahlen": "payment",
    "fehlgeschlagen": "failed", "fehler": "error", "gutschein": "voucher", "akzeptiert": "accepted",
    "funktioniert": "works", "abgebrochen": "aborted",
    # app
    "abgestürzt": "crash", "abstürzt": "crash", "stürzt": "crash", "absturz": "crash",
    "crashing": "crash", "crashed": "crash", "crashes": "crash", "bestellen": "ordering",
    # price
    "preis": "price", "preise": "price", "prices": "price", "teuer": "expensive",
    "günstiger": "cheaper", "billiger": "cheaper", "rabatt": "discount", "rabatte": "discount",
    "discounts": "discount",
    # praise
    "qualität": "quality", "zufrieden": "happy", "toll": "great", "tolle": "great", "super": "great",
    "schöne": "lovely", "schön": "lovely", "produkte": "product", "produkt": "product",
    "products": "product", "bestens": "perfect", "perfekt": "perfect",
}

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
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
    for nm in sorted({str(n).strip() for n in names if n and str(n).strip()}, key=len, reverse=True):
        flags = re.IGNORECASE if " " in nm else 0
        t = re.sub(rf"(?<!\w){re.escape(nm)}(?!\w)", "[name]", t, flags=flags)
    return t


def make_analyzer(extra_stop_words: Iterable[str] = (),
                  glossary: dict[str, str] | None = None):
    """Tokeniser for comments: lower case, words of 3+ letters, e-mails removed, German and
    English stop words dropped, glossary applied (canonical terms are not stop words)."""
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


class CommentThemes:
    """Find themes in comments with TF-IDF + non-negative matrix factorisation.

    Parameters
    ----------
    n_themes : number of themes.
    method : ``"kmeans"`` (default; one theme per comment, spherical k-means on the TF-IDF
        rows, 10 restarts — recovered planted topics in short comments where NMF split a
        large topic and merged two small ones) or ``"nmf"`` (non-negative matrix
        factorisation; a comment's theme is its largest loading).
    n_terms : top terms listed per theme.
    n_examples : example comments per theme.
    min_df : a term must occur in at least this many comments.
    max_features : vocabulary size cap.
    extra_stop_words : added to the built-in German + English lists.
    glossary : term -> canonical term applied after tokenising (default
        :data:`GLOSSARY_DE_EN`, so German and English comments on one topic meet).
    random_state : NMF seed.

    Attributes
    ----------
    themes_ : DataFrame ordered pain points first: theme, label, top_terms, n, share,
        mean_nps (0–10 mean of commenters), nps (points), nps_gap, detractor_share,
        pain_point (bool), priority, examples.
    assignment_ : Series (index of the input) with each comment's theme (-1 = none).
    overall_nps_ : NPS (points) of all commenters with a score.
    """

    def __init__(self, n_themes: int = 6, method: str = "kmeans", n_terms: int = 8, n_examples: int = 3, min_df: int = 3,
                 max_features: int = 3000, extra_stop_words: Sequence[str] = (),
                 glossary: dict[str, str] | None = None, random_state: int | None = 0):
        self.n_themes = n_themes
        self.method = method
        self.n_terms = n_terms
        self.n_examples = n_examples
        self.min_df = min_df
        self.max_features = max_features
        self.extra_stop_words = extra_stop_words
        self.glossary = glossary
        self.random_state = random_state

    def fit(self, comments: pd.Series, nps: pd.Series | None = None,
            names: Iterable[str] = ()) -> CommentThemes:
        """Fit on ``comments`` (NaN/empty ignored) with optional NPS scores (0–10) aligned by
        index, and customer ``names`` to redact from example comments."""
        from sklearn.cluster import KMeans
        from sklearn.decomposition import NMF
        from sklearn.feature_extraction.text import TfidfVectorizer

        if self.method not in ("kmeans", "nmf"):
            raise ValueError("method must be 'kmeans' or 'nmf'")
        comments = pd.Series(comments)
        text = comments.fillna("").astype(str).str.strip()
        keep = text.str.len() > 0
        if nps is not None:
            nps = pd.Series(nps, index=comments.index)
            check_scores(nps, scale=SCALES["nps"], name="nps")
        text = text[keep]
        if len(text) < self.n_themes * 3:
            raise SurveyInputError(f"comments: only {len(text)} non-empty comments for "
                                   f"{self.n_themes} themes.")
        analyzer = make_analyzer(self.extra_stop_words,
                                 GLOSSARY_DE_EN if self.glossary is None else self.glossary)
        vec = TfidfVectorizer(analyzer=analyzer, min_df=min(self.min_df, max(1, len(text) // 20)),
                              max_df=0.5, max_features=self.max_features, sublinear_tf=True)
        X = vec.fit_transform(text)
        if X.shape[1] < self.n_themes:
            raise SurveyInputError(f"comments: vocabulary of {X.shape[1]} terms is too small for "
                                   f"{self.n_themes} themes.")
        if self.method == "nmf":
            model = NMF(n_components=self.n_themes, init="nndsvda", random_state=self.random_state,
                        max_iter=500)
            W = model.fit_transform(X)
            H = model.components_
            assign = np.where(W.max(axis=1) > 0, W.argmax(axis=1), -1)
        else:
            model = KMeans(n_clusters=self.n_themes, n_init=10, random_state=self.random_state)
            labels = model.fit_predict(X)
            H = np.clip(model.cluster_centers_, 0, None)
            W = np.asarray(X @ H.T)   # similarity of each comment to each theme centre
            assign = np.where(np.asarray(X.sum(axis=1)).ravel() > 0, labels, -1)
        terms = np.array(vec.get_feature_names_out())
        self.assignment_ = pd.Series(-1, index=comments.index, name="theme")
        self.assignment_.loc[text.index] = assign
        score = None if nps is None else nps.loc[text.index].to_numpy(float)
        has = None if score is None else ~np.isnan(score)
        if score is not None and has.any():
            s = score[has]
            overall = 100 * ((s >= 9).mean() - (s <= 6).mean())
            overall_det = float((s <= 6).mean())
        else:
            overall, overall_det = np.nan, np.nan
        rows = []
        for k in range(self.n_themes):
            o = np.argsort(-H[k])[: self.n_terms]
            o = o[H[k, o] >= 0.1 * H[k, o[0]]]     # leave out terms barely in the theme
            top = terms[o]
            m = assign == k
            idx = np.flatnonzero(m)
            ex: list[str] = []
            for i in idx[np.argsort(-W[idx, k])]:     # most typical first, no repeats
                e = redact(text.iloc[i], names)[:240]
                if e not in ex:
                    ex.append(e)
                if len(ex) == self.n_examples:
                    break
            row = {"theme": k, "label": " / ".join(top[:3]), "top_terms": ", ".join(top),
                   "n": int(m.sum()), "share": float(m.mean())}
            if score is not None:
                sk = score[m & has]
                if len(sk):
                    row.update(mean_nps=float(sk.mean()),
                               nps=float(100 * ((sk >= 9).mean() - (sk <= 6).mean())),
                               detractor_share=float((sk <= 6).mean()))
                else:
                    row.update(mean_nps=np.nan, nps=np.nan, detractor_share=np.nan)
            row["examples"] = " · ".join(f"“{e}”" for e in ex)
            rows.append(row)
        t = pd.DataFrame(rows)
        if score is not None:
            t["nps_gap"] = overall - t["nps"]
            t["pain_point"] = (t["detractor_share"] > overall_det) & (t["nps_gap"] > 0)
            t["priority"] = np.where(t["pain_point"], t["share"] * t["nps_gap"], 0.0)
            t = t.sort_values(["pain_point", "priority", "share"], ascending=[False, False, False])
            t = t[["theme", "label", "top_terms", "n", "share", "mean_nps", "nps", "nps_gap",
                   "detractor_share", "pain_point", "priority", "examples"]]
        else:
            t = t.sort_values("share", ascending=False)
        self.themes_ = t.reset_index(drop=True)
        self.overall_nps_ = float(overall)
        self.n_comments_ = len(text)
        self.vectorizer_, self.model_ = vec, model
        return self

    def pain_points(self) -> pd.DataFrame:
        """Detractor themes only, highest priority first."""
        if "pain_point" not in self.themes_:
            raise SurveyInputError("pain points need NPS scores: fit with nps=...")
        return self.themes_[self.themes_["pain_point"]].reset_index(drop=True)


__all__ = ["GLOSSARY_DE_EN", "STOP_WORDS", "STOP_WORDS_DE", "STOP_WORDS_EN", "CommentThemes",
           "make_analyzer", "name_list", "redact"]
