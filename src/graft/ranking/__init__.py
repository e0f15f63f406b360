"""``graft rank``: which pretrained model to start from, decided before any training.

Candidates (:mod:`.candidates`) are built like ``graft fit`` builds them, their features
of the labeled training split extracted once, and the transferability scores of
:mod:`graft.selection.transferability` run on them (:mod:`.rank`); LEEP and NCE read the
labels through the model's source head (:mod:`graft.models.source_heads`). ``--verify`` fine-tunes the
top models to check the scores (:mod:`.verify`); :mod:`.report` writes the files.
"""

from graft.ranking.candidates import Candidate, parse_candidate, read_models_file
from graft.ranking.rank import rank
from graft.ranking.result import RankResult

__all__ = ["Candidate", "RankResult", "parse_candidate", "rank", "read_models_file"]
