#!/usr/bin/env bash
# The full comparisons quoted in the README and notebooks: 10 seeds, initial design 10, batch 10, qLogNEI,
# every optimiser; MBv3 budget 100, NB201 budget 150 (its first 100 evaluations are the budget-100 run).
# Resumable: rerunning skips finished (optimizer, seed) runs.
# Usage: benchmarks/run_comparisons.sh [mbv3|cifar10|cifar100|imagenet16-120|ax|ensemble_selection|gp_selection|noiseaware|nopaths|synflow|params|nosize|logei|prior|fresh ...]
# Every variant target below ran with noise-aware ensemble members, so it runs with CLEAN=0.5 (surrogate option
# clean_fraction = 0.5), and all but noiseaware ran before NB201's path encoding existed, so they also run with
# PATHS=0 (surrogate option path_encoding = false; MBv3 has no cell paths, so there it changes nothing): old_recipe_run.
# All of them, and the default before MBv3's GP chose the batches (target ensemble_selection), chose every batch with the
# ensemble itself: SEL=ensemble (surrogate option selection_model = ensemble; on NB201 the default does the same).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin/bo-diffnag
BASE=diffusion,diffusion_norefine,mutation,random_pool,mutation_random,acqf_local_search,local_search,evolution,random
# ax_default (Ax's GP strategy) costs ~45 s per proposal round on MBv3 and 7-10 s on NB201 with one thread, so
# it is a separate target: `benchmarks/run_comparisons.sh ax` (CIFAR-10 and CIFAR-100 15-18 min each, MBv3 about
# an hour, with --jobs 2).
run() {  # space benchmark budget optimizers [acquisition] [prior_scale] [size_prior: 1 or 0] [seed_offset] [prior_proxy]
  # environment: PATHS=0 switches the path encoding off; CLEAN sets the members' clean_fraction; SEL the
  # selection_model; SUFFIX is added to the directory name before _seeds
  local acq="${5:-qLogNEI}" scale="${6:-}" size="${7:-1}" offset="${8:-0}" proxy="${9:-}" out="benchmarks/results/compare_$1_$2"
  local recipe=()
  [ "${PATHS:-1}" = 0 ] && recipe+=(--surrogate-option path_encoding=false)
  [ -n "${CLEAN:-}" ] && recipe+=(--surrogate-option "clean_fraction=$CLEAN")
  [ -n "${SEL:-}" ] && recipe+=(--surrogate-option "selection_model=$SEL")
  [ "$1" = mbv3 ] && out=benchmarks/results/compare_mbv3
  [ "$acq" != qLogNEI ] && out="${out}_$acq"
  [ -n "$scale" ] && out="${out}_prior$scale" && recipe+=(--surrogate-option "prior_scale=$scale")
  [ -n "$proxy" ] && out="${out}_$proxy" && recipe+=(--surrogate-option "prior_proxy=$proxy")
  [ "$size" = 0 ] && out="${out}_nosize" && recipe+=(--surrogate-option "size_prior=false")
  out="${out}${SUFFIX:-}"
  [ "$offset" != 0 ] && out="${out}_seeds$offset"
  $BIN bench --space "$1" --benchmark "$2" --optimizers "$4" --acquisition "$acq" --budget "$3" --seeds 10 \
    --seed-offset "$offset" --n-init 10 --batch-size 10 --jobs 2 "${recipe[@]}" --out "$out"
  $BIN report "$out"
}
old_recipe_run() {  # run's arguments with the recipe of the variant targets after noiseaware
  PATHS=0 CLEAN=0.5 SEL=ensemble run "$@"
}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(mbv3 cifar10 cifar100 imagenet16-120)
for target in "${targets[@]}"; do
  case "$target" in
    mbv3) run mbv3 imagenet 100 "$BASE" ;;
    ax) for b in cifar10 cifar100; do run nb201 "$b" 150 ax_default; done; run mbv3 imagenet 100 ax_default ;;
    # The default before clean-only members (surrogate option clean_fraction = 0.5: half of each member's batches
    # noised, DiffusionNAG's noise-aware surrogate), every surrogate-based optimiser, and DiffusionNAG on the fresh
    # seeds (CIFAR-10 and CIFAR-100). (The default directories took the surrogate-free optimisers' traces from these.)
    # MBv3's default before its GP chose the batches (surrogate option selection_model = ensemble), every
    # surrogate-based optimiser on seeds 0-9 and 10-19. (The surrogate-free optimisers' traces, ax_default's
    # included, do not depend on it: the default directories took theirs from these.)
    # NB201 with MBv3's GP choosing the batches (surrogate option selection_model = gp) instead of its default
    # (the ensemble), DiffusionNAG and the acquisition hill-climb, budget 100: why NB201 keeps the ensemble.
    gp_selection) for b in cifar10 cifar100; do SEL=gp SUFFIX=_gp_selection run nb201 "$b" 100 diffusion,acqf_local_search; done ;;
    ensemble_selection) for offset in 0 10; do SEL=ensemble SUFFIX=_ensemble_selection run mbv3 imagenet 100 "$BASE" qLogNEI "" 1 "$offset"; done ;;
    noiseaware) for b in cifar10 cifar100 imagenet16-120; do CLEAN=0.5 SEL=ensemble SUFFIX=_noiseaware run nb201 "$b" 150 "$BASE,exhaustive"; done
                CLEAN=0.5 SEL=ensemble SUFFIX=_noiseaware run mbv3 imagenet 100 "$BASE"
                for b in cifar10 cifar100; do CLEAN=0.5 SEL=ensemble SUFFIX=_noiseaware run nb201 "$b" 150 diffusion,diffusion_norefine qLogNEI "" 1 10; done ;;
    # NB201's default before the path encoding (surrogate option path_encoding = false), every surrogate-based
    # optimiser, and DiffusionNAG on the fresh seeds (CIFAR-10 and CIFAR-100). (The surrogate-free optimisers'
    # traces, ax_default's included, do not depend on the surrogate: the default directories took theirs from these.)
    nopaths) for b in cifar10 cifar100 imagenet16-120; do SUFFIX=_nopaths old_recipe_run nb201 "$b" 150 "$BASE,exhaustive"; done
             for b in cifar10 cifar100; do SUFFIX=_nopaths old_recipe_run nb201 "$b" 150 diffusion,diffusion_norefine qLogNEI "" 1 10; done ;;
    # NB201's earlier proxies for the prior mean instead of its default (the pairwise SynFlow fit): the linear
    # SynFlow fit (surrogate option prior_proxy = synflow) and the parameter count (prior_proxy = params), every
    # surrogate-based optimiser, and DiffusionNAG on the fresh seeds. (The surrogate-free optimisers' traces are
    # the same whatever the proxy: their runs were copied between the directories.)
    synflow|params)
            for b in cifar10 cifar100 imagenet16-120; do old_recipe_run nb201 "$b" 150 "$BASE,exhaustive" qLogNEI "" 1 0 "$target"; done
            fresh_optimizers=diffusion_norefine; [ "$target" = synflow ] && fresh_optimizers=diffusion,diffusion_norefine
            old_recipe_run nb201 cifar10 150 "$fresh_optimizers" qLogNEI "" 1 10 "$target" ;;
    # The ensemble without the size prior (surrogate option size_prior = false): the recipe before it, every
    # optimiser (the surrogate-free ones, ax_default included, give the same traces with or without it).
    # (DiffusionNAG without refinement only: refinement came after the size prior.)
    nosize) for b in cifar10 cifar100 imagenet16-120; do old_recipe_run nb201 "$b" 150 "${BASE#diffusion,},exhaustive" qLogNEI "" 0; done
            old_recipe_run mbv3 imagenet 100 "${BASE#diffusion,}" qLogNEI "" 0 ;;
    # The variants below were measured without the size prior (directories *_nosize), and without refinement.
    # Analytic LogEI (top-q by marginal value) instead of qLogNEI: every surrogate-based optimiser on NB201
    # (the surrogate-free ones do not use an acquisition), DiffusionNAG on MBv3.
    logei) for b in cifar10 cifar100 imagenet16-120; do
             old_recipe_run nb201 "$b" 150 diffusion_norefine,mutation,random_pool,mutation_random,acqf_local_search,exhaustive LogEI "" 0
           done
           old_recipe_run mbv3 imagenet 100 diffusion_norefine LogEI "" 0 ;;
    # Ensemble members with randomized prior functions (surrogate option prior_scale = 1):
    # DiffusionNAG with qLogNEI and with LogEI on every benchmark.
    prior) for acq in qLogNEI LogEI; do
             for b in cifar10 cifar100 imagenet16-120; do old_recipe_run nb201 "$b" 150 diffusion_norefine "$acq" 1 0; done
             old_recipe_run mbv3 imagenet 100 diffusion_norefine "$acq" 1 0
           done ;;
    # A check of the default on fresh seeds (10-19): DiffusionNAG on CIFAR-10 and CIFAR-100, every optimiser but
    # ax_default on MBv3, and DiffusionNAG on CIFAR-10 without the size prior (with noise-aware members, also
    # without refinement: target noiseaware; with the earlier proxies: targets synflow and params; without paths:
    # nopaths).
    fresh) for b in cifar10 cifar100; do run nb201 "$b" 150 diffusion qLogNEI "" 1 10; done
           run mbv3 imagenet 100 "$BASE" qLogNEI "" 1 10
           old_recipe_run nb201 cifar10 150 diffusion_norefine qLogNEI "" 0 10 ;;
    *) run nb201 "$target" 150 "$BASE,exhaustive" ;;
  esac
done
