"""Ax generation nodes that propose architectures with bo-diffnag's acquisition optimisers.

Both nodes are :class:`~ax.generation_strategy.external_generation_node.ExternalGenerationNode`\\ s: Ax
keeps the experiment, storage, pending trials and reporting; the node reads the experiment, runs the
same proposal step as the core loop (:func:`bo_diffnag.bo.propose_batch`) and hands out parameterisations.

Proposals are a pure function of the experiment's state, so a saved and reloaded experiment continues
with exactly the proposals it would have made:

* A *round* is identified by the fingerprint of the finished trials (their arms, statuses and objective
  values); pending trials do not change it. A round of :class:`AcquisitionNode` advances once
  ``batch_size`` more trials have finished, so an asynchronous loop refitting after every result still
  fits once per batch. The round's seed is derived from the node's seed and the
  fingerprint, and every generator run carries the fingerprint in its ``gen_metadata``.
* A round proposes ``batch_size`` architectures at once (a joint q-batch, as in the core loop) and serves
  them one per requested arm. Architectures of trials generated earlier *in the same round* are not
  excluded when the round is recomputed after a reload, so the recomputed batch is the original one.
* Every evaluated, failed or pending architecture, and every arm of the current ``gen`` call, is
  excluded: an architecture is never proposed twice.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from io import StringIO
from typing import Any

import pandas as pd
import torch
from ax.core.data import Data
from ax.core.experiment import Experiment
from ax.core.generator_run import GeneratorRun
from ax.core.trial_status import TrialStatus
from ax.core.types import TParameterization
from ax.generation_strategy.external_generation_node import ExternalGenerationNode
from ax.generation_strategy.transition_criterion import TransitionCriterion
from ax.storage.json_store.decoder import object_from_json

from ax_integration.parameters import arch_to_parameters, parameters_to_arch
from bo_diffnag.bo import GENERATIVE_OPTIMIZERS, OPTIMIZERS, initial_design, propose_batch
from bo_diffnag.diffusion.prior import DiffusionPrior
from bo_diffnag.search import next_local_search_arch, random_unseen_arch
from bo_diffnag.spaces import SearchSpace, get_space
from bo_diffnag.surrogate.acquisition import ACQUISITIONS

ROUND_KEY = "bo_diffnag_round"
_FINISHED = (TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.ABANDONED, TrialStatus.EARLY_STOPPED)


def derive_seed(seed: int, *keys: Any) -> int:
    """A 31-bit seed that depends on ``seed`` and ``keys`` only (stable across processes)."""
    digest = hashlib.sha256(json.dumps([seed, *keys]).encode()).hexdigest()
    return int(digest[:15], 16) % 2**31


@dataclass
class ExperimentHistory:
    """What a node needs to know about an experiment, in core terms.

    Attributes:
        completed_archs: architectures of completed trials with a finite objective.
        completed_Y: their objective values, sign-flipped for minimisation (larger is better).
        completed_keys: the round key of each completed trial (``"initial"`` for the initial design).
        trial_archs: ``(arch, round key or None)`` of every trial, in trial order.
        fingerprint: hash of the finished trials (arms, statuses, objective values).
    """

    completed_archs: list[str]
    completed_Y: list[float]
    completed_keys: list[str | None]
    trial_archs: list[tuple[str, str | None]]
    fingerprint: str

    @classmethod
    def from_experiment(
        cls, experiment: Experiment, data: Data, space: SearchSpace, round_size: int = 1
    ) -> ExperimentHistory:
        """The experiment's history as of its latest round.

        With ``round_size = R > 1`` a round only advances once ``R`` more trials have finished: the round is
        made of the first ``n₀ + ⌊(n − n₀)/R⌋·R`` finished trials (in trial order), where ``n`` trials are
        finished and ``n₀`` of them belong to the initial design. An asynchronous loop that refills one
        worker at a time then fits and proposes once per ``R`` results instead of after every one.
        """
        objective = experiment.optimization_config.objective
        if not objective.is_single_objective:
            raise ValueError(f"bo-diffnag nodes need a single objective, got {objective.expression!r}")
        sign = -1.0 if objective.minimize else 1.0
        values = _latest_means(data, objective.metric_names[0])
        trial_archs, finished = [], []
        for index, trial in sorted(experiment.trials.items()):
            runs = trial.generator_runs
            key = (runs[0].gen_metadata or {}).get(ROUND_KEY) if runs else None
            for arm in trial.arms:
                arch = parameters_to_arch(space, arm.parameters)
                trial_archs.append((arch, key))
                if trial.status in _FINISHED:
                    value = values.get(index, math.nan)
                    finished.append((index, arch, trial.status, value if math.isfinite(value) else None, key))
        n_initial = sum(key == "initial" for *_, key in finished)
        finished = finished[: n_initial + (len(finished) - n_initial) // round_size * round_size]
        completed = [(arch, value, key) for _, arch, status, value, key in finished if status == TrialStatus.COMPLETED and value is not None]
        fingerprint = hashlib.sha256(
            json.dumps([[index, arch, status.name, value] for index, arch, status, value, _ in finished]).encode()
        ).hexdigest()[:16]
        return cls(
            [arch for arch, _, _ in completed],
            [sign * value for _, value, _ in completed],
            [key for _, _, key in completed],
            trial_archs,
            fingerprint,
        )


def _latest_means(data: Data, metric_name: str) -> dict[int, float]:
    """Trial index → the metric's mean at its latest progression (IMetric data carries a ``step``).

    Values go through the same pandas JSON round trip as Ax's storage (10 decimals), so a node on a
    reloaded experiment sees bit-identical data and makes identical proposals.
    """
    df = data.df
    if df.empty:
        return {}
    df = df[df["metric_name"] == metric_name]
    if "step" in df.columns:
        df = df.sort_values("step", kind="stable")
    means = df.groupby("trial_index")["mean"].last().reset_index()
    stored = pd.read_json(StringIO(means.to_json()), dtype=False)
    return {int(k): float(v) for k, v in zip(stored["trial_index"], stored["mean"])}


class _ArchitectureNode(ExternalGenerationNode):
    """Shared bookkeeping: experiment history, exclusion of taken architectures, round tags."""

    def __init__(
        self,
        name: str,
        space: str,
        seed: int,
        should_deduplicate: bool = True,
        transition_criteria: Sequence[TransitionCriterion] | None = None,
    ) -> None:
        super().__init__(name=name, should_deduplicate=should_deduplicate, transition_criteria=transition_criteria)
        self.space_name = space
        self.space = get_space(space)
        self.seed = int(seed)
        self.history: ExperimentHistory | None = None
        self._round_key: str | None = None

    def init_kwargs(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this node (its JSON/SQL storage form)."""
        return {
            "name": self.name,
            "space": self.space_name,
            "seed": self.seed,
            "should_deduplicate": self.should_deduplicate,
            "transition_criteria": self.transition_criteria,
        }

    @classmethod
    def deserialize_init_args(cls, args: dict[str, Any], **registries: Any) -> dict[str, Any]:
        """Decode stored constructor arguments (Ax does not recurse into a ``SerializationMixin``'s args)."""
        registries = {k: v for k, v in registries.items() if v is not None}
        return {key: object_from_json(value, **registries) for key, value in args.items()}

    #: finished trials per round (see :meth:`ExperimentHistory.from_experiment`).
    round_size = 1

    def update_generator_state(self, experiment: Experiment, data: Data) -> None:
        self.history = ExperimentHistory.from_experiment(experiment, data, self.space, self.round_size)

    def get_next_candidate(self, pending_parameters: list[TParameterization]) -> TParameterization:
        if self.history is None:
            raise RuntimeError(f"{self.name}: update_generator_state must run before get_next_candidate")
        taken = {arch for arch, _ in self.history.trial_archs}
        taken |= {parameters_to_arch(self.space, p) for p in pending_parameters}
        arch = self._next_arch(self.history, taken)
        return arch_to_parameters(self.space, arch)

    def _next_arch(self, history: ExperimentHistory, taken: set[str]) -> str:
        raise NotImplementedError

    def _random_arch(self, taken: set[str]) -> str:
        """A uniformly random architecture not in ``taken``, seeded by the node seed and ``len(taken)``."""
        return random_unseen_arch(self.space, taken, derive_seed(self.seed, "random", len(taken)))

    def _gen(self, *args: Any, **kwargs: Any) -> GeneratorRun:
        run = super()._gen(*args, **kwargs)
        run._gen_metadata = {**(run.gen_metadata or {}), ROUND_KEY: self._round_key}
        # Ax resets the fit time to the int 0; SQL storage reloads it as 0.0 and then fails to match the
        # saved run to the in-memory one (duplicated rows, arms lost on reload). Keep it a float.
        run._fit_time = float(run._fit_time or 0.0)
        run._gen_time = float(run._gen_time or 0.0)
        return run


class InitialDesignNode(_ArchitectureNode):
    """Space-filling start: the core loop's seeded uniform design (:func:`bo_diffnag.bo.initial_design`).

    With the same ``seed``, every optimiser — and the core loop — starts from the same architectures.
    """

    def __init__(
        self,
        space: str,
        n_init: int = 10,
        seed: int = 0,
        name: str = "InitialDesign",
        should_deduplicate: bool = True,
        transition_criteria: Sequence[TransitionCriterion] | None = None,
    ) -> None:
        super().__init__(name, space, seed, should_deduplicate, transition_criteria)
        self.n_init = int(n_init)
        self.design = initial_design(self.space, self.n_init, seed=self.seed)

    def init_kwargs(self) -> dict[str, Any]:
        return {**super().init_kwargs(), "n_init": self.n_init}

    def _next_arch(self, history: ExperimentHistory, taken: set[str]) -> str:
        self._round_key = "initial"
        return next((arch for arch in self.design if arch not in taken), None) or self._random_arch(taken)


class AcquisitionNode(_ArchitectureNode):
    """Bayesian-optimisation proposals: the BO loop's ensemble + BoTorch acquisition + ``optimizer``.

    Args:
        space: ``"nb201"`` or ``"mbv3"``.
        optimizer: one of :data:`bo_diffnag.bo.OPTIMIZERS` (``"diffusion"`` is DiffusionNAG).
        acquisition: one of :data:`bo_diffnag.surrogate.acquisition.ACQUISITIONS`.
        batch_size: architectures proposed jointly per round (served one per requested arm).
        seed: node seed; the round seed is derived from it and the finished trials.
        surrogate_options: keyword arguments of :class:`~bo_diffnag.surrogate.NoiseAwareEnsemble`.

    Example:
        >>> node = AcquisitionNode("nb201", optimizer="mutation", batch_size=4)
        >>> node.name
        'BO'
    """

    def __init__(
        self,
        space: str,
        optimizer: str = "diffusion",
        acquisition: str = "qLogNEI",
        batch_size: int = 1,
        seed: int = 0,
        surrogate_options: dict[str, Any] | None = None,
        name: str = "BO",
        should_deduplicate: bool = True,
        transition_criteria: Sequence[TransitionCriterion] | None = None,
    ) -> None:
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {list(OPTIMIZERS)}")
        if acquisition not in ACQUISITIONS:
            raise ValueError(f"unknown acquisition {acquisition!r}; expected one of {list(ACQUISITIONS)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        super().__init__(name, space, seed, should_deduplicate, transition_criteria)
        self.optimizer = optimizer
        self.acquisition = acquisition
        self.batch_size = int(batch_size)
        self.round_size = self.batch_size
        self.surrogate_options = dict(surrogate_options or {})
        self.prior = DiffusionPrior.pretrained(space) if optimizer in GENERATIVE_OPTIMIZERS else None
        self._batch: list[str] = []

    def init_kwargs(self) -> dict[str, Any]:
        return {
            **super().init_kwargs(),
            "optimizer": self.optimizer,
            "acquisition": self.acquisition,
            "batch_size": self.batch_size,
            "surrogate_options": self.surrogate_options,
        }

    def _next_arch(self, history: ExperimentHistory, taken: set[str]) -> str:
        if self._round_key != history.fingerprint:
            self._round_key = history.fingerprint
            if len(history.completed_archs) < 2:  # nothing to fit yet: keep exploring uniformly
                self._batch = []
            else:
                # Arms of this round's earlier trials were not excluded when the batch was first made.
                avoid = [arch for arch, key in history.trial_archs if key != history.fingerprint]
                self._batch = self._propose(history, avoid, derive_seed(self.seed, history.fingerprint))
        arch = next((a for a in self._batch if a not in taken), None)
        if arch is None and len(history.completed_archs) >= 2:  # more arms requested than one round holds
            self._batch = self._propose(history, sorted(taken), derive_seed(self.seed, history.fingerprint, len(taken)))
            arch = next((a for a in self._batch if a not in taken), None)
        return arch or self._random_arch(taken)

    def _propose(self, history: ExperimentHistory, avoid: list[str], seed: int) -> list[str]:
        train_Y = torch.tensor(history.completed_Y, dtype=torch.double).unsqueeze(-1)
        return propose_batch(
            self.space,
            self.optimizer,
            self.acquisition,
            history.completed_archs,
            train_Y,
            avoid,
            q=self.batch_size,
            seed=seed,
            prior=self.prior,
            surrogate_options=self.surrogate_options,
        )


class LocalSearchNode(_ArchitectureNode):
    """First-improvement local search on the true objective, no surrogate (:mod:`bo_diffnag.search`).

    Starts from the best architecture of the initial design; one architecture per requested arm.
    """

    def __init__(
        self,
        space: str,
        seed: int = 0,
        name: str = "LocalSearch",
        should_deduplicate: bool = True,
        transition_criteria: Sequence[TransitionCriterion] | None = None,
    ) -> None:
        super().__init__(name, space, seed, should_deduplicate, transition_criteria)

    def _next_arch(self, history: ExperimentHistory, taken: set[str]) -> str:
        self._round_key = history.fingerprint
        if not history.completed_archs:
            return self._random_arch(taken)
        n_start = sum(key == "initial" for key in history.completed_keys)
        return next_local_search_arch(
            self.space, history.completed_archs, history.completed_Y, taken, n_start, seed=self.seed
        )
