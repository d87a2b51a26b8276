"""Recall and precision of the redactor over the labelled corpus in ``tests/data/``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tracestream.streams import Redactor

DATA = Path(__file__).resolve().parents[2] / "data"
CORPUS_FILES = ("redaction_corpus.jsonl", "redaction_hand.jsonl")


@dataclass
class Score:
    tp: int = 0  # gold values fully covered by a finding of the same detector
    fn: int = 0
    fp: int = 0  # findings overlapping no gold value of the same detector
    pred_ok: int = 0
    misses: list[str] = field(default_factory=list)
    false: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def precision(self) -> float:
        return self.pred_ok / (self.pred_ok + self.fp) if self.pred_ok + self.fp else 1.0


def load() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name in CORPUS_FILES:
        with (DATA / name).open(encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    return rows


def evaluate(redactor: Redactor, rows: list[dict[str, object]]) -> dict[str, Score]:
    scores: dict[str, Score] = {}
    for row in rows:
        text = str(row["text"])
        gold = [(str(s["detector"]), int(s["start"]), int(s["end"])) for s in row["spans"]]  # type: ignore[attr-defined]
        found = redactor.scan(text)
        for det, start, end in gold:
            score = scores.setdefault(det, Score())
            if any(f.detector == det and f.start <= start and f.end >= end for f in found):
                score.tp += 1
            else:
                score.fn += 1
                score.misses.append(text[start:end])
        for f in found:
            score = scores.setdefault(f.detector, Score())
            if any(d == f.detector and f.start < e and s < f.end for d, s, e in gold):
                score.pred_ok += 1
            else:
                score.fp += 1
                score.false.append(text[max(0, f.start - 15) : f.end + 5])
    return scores


def overall(scores: dict[str, Score]) -> tuple[float, float]:
    tp = sum(s.tp for s in scores.values())
    fn = sum(s.fn for s in scores.values())
    ok = sum(s.pred_ok for s in scores.values())
    fp = sum(s.fp for s in scores.values())
    return tp / (tp + fn), ok / (ok + fp)


def table(scores: dict[str, Score]) -> str:
    lines = ["| detector | gold | recall | precision | FN | FP |", "|---|---|---|---|---|---|"]
    for name in sorted(scores):
        s = scores[name]
        lines.append(
            f"| {name} | {s.tp + s.fn} | {s.recall:.3f} | {s.precision:.3f} | {s.fn} | {s.fp} |"
        )
    r, p = overall(scores)
    lines.append(f"| **overall** | | {r:.3f} | {p:.3f} | | |")
    return "\n".join(lines)
