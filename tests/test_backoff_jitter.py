"""backoff-jitter: the stated error rates hold (analytically and by simulation), wrong backoffs and
jitters fail the right check with the right message, and every declared jitter passes when drawn right.

Submissions are solutions/oas3/ with client.py edited; all are graded at once, in parallel workers.
"""

from __future__ import annotations

import math
import re
import sys

import numpy as np
import pytest
from checker_support import SOLUTIONS, STARTERS, edited, failed, grade_many, make_submission

from checker.exercises import backoff_jitter as bj

CLIENT = "oas3/client.py"
SOLUTION = (SOLUTIONS / CLIENT).read_text()
EXERCISE = "backoff-jitter"
DRAW = ('    if policy.jitter == "full":\n        return random.uniform(0.0, delay)\n'
        '    if policy.jitter == "equal":\n        return random.uniform(delay / 2, delay)\n'
        '    return random.uniform(max(0.0, delay - policy.spread), delay + policy.spread)  # "bounded": never below 0\n')
SLEEP = "        wait = backoff_delay(attempt, policy) if asked is None else asked  # retry k follows attempt k\n"


def patched(*edits: tuple[str, str], text: str = SOLUTION) -> str:
    """The solution's client.py with each (old, new) replacement applied once."""
    return edited(text, *edits)


def draw(code: str) -> tuple[str, str]:
    """Replace the jitter line of backoff_delay() with `code` (one or more lines at function level)."""
    return DRAW, "".join(f"    {line}\n" for line in code.splitlines())


def declare(jitter: str) -> tuple[str, str]:
    return 'jitter: str = "bounded"', f"jitter: str = {jitter!r}"


def fits(template: str, text: str) -> bool:
    """True if `text` contains `template` with every {field} filled in somehow."""
    parts = [re.escape(part) for part in re.split(r"\{[^{}]*\}", template)]
    return re.search(".*?".join(parts), text, re.DOTALL) is not None


RANGES = {bj.FIXED, bj.EXPONENTIAL, bj.CAP}
# (case, client.py, failed checks, the check whose message is examined, template or fragment it must fit)
WRONG = [
    ("fail-starter", (STARTERS / CLIENT).read_text(), {bj.EXPONENTIAL, bj.CAP, bj.UNIFORM, bj.CLIENT},
     bj.UNIFORM, bj.CONSTANT),
    ("fail-no-jitter", patched(draw("return delay")), {bj.UNIFORM}, bj.UNIFORM, bj.NOT_UNIFORM),
    ("fail-one-sided-jitter", patched(draw("return random.uniform(delay, delay + policy.spread)")), {bj.UNIFORM},
     bj.UNIFORM, bj.UNEVEN),
    ("fail-half-as-wide", patched(draw("return random.uniform(delay - policy.spread / 2, delay + policy.spread / 2)")),
     {bj.UNIFORM}, bj.UNIFORM, "Kolmogorov–Smirnov distance 0.2"),
    ("fail-gaussian-jitter", patched(draw("return random.gauss(delay, policy.spread / 2)")), RANGES,
     bj.EXPONENTIAL, bj.LEAKS),
    ("fail-exponent-off-by-one", patched(("policy.base * 2 ** (retry - 1)", "policy.base * 2 ** retry")),
     {bj.EXPONENTIAL}, bj.EXPONENTIAL, "as if the delay before jitter were 2 s"),
    ("fail-no-cap", patched(("min(policy.cap, policy.base * 2 ** (retry - 1))", "policy.base * 2 ** (retry - 1)")),
     {bj.CAP}, bj.CAP, "as if the delay before jitter were 64 s"),
    ("fail-cap-after-jitter", patched(("delay = min(policy.cap, policy.base * 2 ** (retry - 1))",
                                       "delay = policy.base * 2 ** (retry - 1)"),
                                      draw("return min(policy.cap, random.uniform(delay - policy.spread, "
                                           "delay + policy.spread))")),
     {bj.CAP}, bj.CAP, bj.PILED),
    ("fail-fixed-treated-as-exponential", patched(('    if policy.backoff == "fixed":', '    if False:')),
     {bj.FIXED}, bj.FIXED, "retry 4 with fixed backoff"),
    ("fail-declares-full-draws-bounded", patched(declare("full"), draw("return random.uniform(delay - policy.spread, "
                                                                       "delay + policy.spread)")),
     RANGES, bj.FIXED, "“full” jitter"),
    ("fail-unknown-jitter-declared", patched(declare("gaussian")), {bj.DECLARED}, bj.DECLARED,
     "RetryPolicy().jitter is 'gaussian'"),
    ("fail-cycles-through-precomputed-jitter", patched(
        ("import httpx\n", "import httpx\nimport itertools\n_JITTER = itertools.cycle([random.random() for _ in "
                           "range(2000)])\n"),
        draw("return delay - policy.spread + 2 * policy.spread * next(_JITTER)")),
     {bj.INDEPENDENT}, bj.INDEPENDENT, bj.REPEATS),
    ("fail-home-made-generator", patched(
        ("import httpx\n", "import httpx\n_PHASE = [0.0]\n"),
        draw("_PHASE[0] = (_PHASE[0] + 2 ** 0.5) % 1\nreturn delay - policy.spread + 2 * policy.spread * _PHASE[0]")),
     {bj.INDEPENDENT}, bj.INDEPENDENT, bj.SERIAL),
    ("fail-client-retry-off-by-one", patched((SLEEP, SLEEP.replace("backoff_delay(attempt,", "backoff_delay(attempt - 1,"))),
     {bj.CLIENT}, bj.CLIENT, "retry 1: your client slept"),
    ("fail-client-ignores-the-policy", patched((SLEEP, SLEEP.replace("backoff_delay(attempt, policy)",
                                                                     "backoff_delay(attempt)"))),
     {bj.CLIENT}, bj.CLIENT, bj.CLIENT_WRONG),
    ("fail-client-fixed-sleep", patched((SLEEP, SLEEP.replace("backoff_delay(attempt, policy)", "1.0"))),
     {bj.CLIENT}, bj.CLIENT, "retry 3: your client slept 1–1 s"),
    ("fail-returns-a-string", patched(draw("return str(random.uniform(delay - policy.spread, delay + policy.spread))")),
     {bj.RUNS}, bj.RUNS, "returned '"),
    ("fail-fixed-not-written-yet", patched(('        delay = policy.base\n',
                                            '        raise NotImplementedError("fixed backoff")\n')),
     {bj.RUNS}, bj.RUNS, "raised NotImplementedError: fixed backoff (oas3/client.py:"),
    ("fail-sleeps-inside", patched(draw("time.sleep(0.001)\nreturn random.uniform(delay - policy.spread, "
                                        "delay + policy.spread)")),
     {bj.RUNS, bj.CLIENT}, bj.RUNS, "your code slept for real: time.sleep(0.001) at oas3/client.py:"),
]
RIGHT = [
    ("pass-solution-bounded", SOLUTION),
    ("pass-full-jitter", patched(declare("full"), draw("return random.uniform(0, delay)"))),
    ("pass-equal-jitter", patched(declare("equal"), draw("return delay / 2 + random.uniform(0, delay / 2)"))),
    ("pass-own-random-instance", patched(("import httpx\n", "import httpx\n_RNG = random.Random()\n"),
                                         draw("return _RNG.uniform(delay - policy.spread, delay + policy.spread)"))),
    ("pass-numpy-generator", patched(("import httpx\n", "import httpx\nimport numpy\n_RNG = numpy.random.default_rng()\n"),
                                     draw("return _RNG.uniform(delay - policy.spread, delay + policy.spread)"))),
    ("pass-system-random", patched(draw("return random.SystemRandom().uniform(delay - policy.spread, "
                                        "delay + policy.spread)"))),
    ("pass-scaled-random-random", patched(draw("return delay + policy.spread * (2 * random.random() - 1)"))),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """Grade every case of this file once, four workers at a time."""
    cases = {case: text for case, text, *_ in WRONG} | dict(RIGHT)
    folders = {case: make_submission(tmp_path_factory.mktemp(case), {CLIENT: text}) for case, text in cases.items()}
    return grade_many(folders, EXERCISE, workers=4)


@pytest.mark.parametrize("case, text, checks, check, template", WRONG, ids=[c[0] for c in WRONG])
def test_wrong_backoff_fails_the_right_check(graded, case, text, checks, check, template):
    problems = failed(graded[case])
    assert set(problems) == checks, f"{case}: {graded[case]}"
    assert fits(template, problems[check]), f"{case}: {problems[check]}"
    assert problems[check].endswith(f"See {bj.LESSON}, “{bj.SECTION}”."), problems[check]


@pytest.mark.parametrize("case", [c[0] for c in RIGHT])
def test_correct_backoff_variant_passes(graded, case):
    result = graded[case]
    assert result.passed, str(result)
    assert {c.name for c in result.checks} == {bj.RUNS, bj.DECLARED, *RANGES, bj.UNIFORM, bj.INDEPENDENT, bj.CLIENT}


def test_starter_message_names_the_missing_growth(graded):
    message = failed(graded["fail-starter"])[bj.EXPONENTIAL]
    assert "2500 of 2500 delays fell outside 3.5–4.5 s (4 s ± 0.5 s, “bounded” jitter); yours ranged 1–1 s" in message


# -- the stated error rates --------------------------------------------------------------


def test_false_failure_rate_of_a_run_is_below_one_in_a_million():
    assert bj.TESTS == 20 and bj.ALPHA_EACH == pytest.approx(5e-8)
    assert bj.false_failure_bound() <= 1e-6
    assert bj.repeat_bound() < 1e-70


def test_exact_kolmogorov_smirnov_tail_is_within_the_dkw_bound():
    from scipy.stats import kstwo

    assert kstwo.sf(bj.KS_LIMIT, bj.SAMPLES) <= bj.ALPHA_EACH
    assert bj.KS_LIMIT == pytest.approx(0.0592, abs=5e-4)


def test_power_against_a_jitter_at_distance_one_tenth_is_above_99_9_percent():
    assert bj.ks_power(0.1) > 0.999
    assert bj.ks_power(bj.KS_LIMIT / 2) == 0.0


def test_serial_and_two_sample_limits_have_the_stated_power():
    pairs = bj.SAMPLES // 2
    gap = (0.5 - bj.SERIAL_LIMIT) * pairs / 12  # how far below its mean the pair sum must fall to miss rho = 0.5
    assert math.exp(-2 * gap**2 / (pairs * 0.5**2)) < 0.01  # Hoeffding, products in [-1/4, 1/4]
    slack = 0.5 - bj.TWO_SAMPLE_LIMIT  # a law at distance 0.5 is missed only if both samples stray this far
    miss = 2 * math.exp(-2 * bj.CLIENT_RUNS * (0.7 * slack) ** 2) + 2 * math.exp(-2 * bj.SAMPLES * (0.3 * slack) ** 2)
    assert miss < 0.001


def judge(values: np.ndarray, mode: str, config: bj.Config) -> str:
    """The first property a sample fails, as the exercise judges it: range, uniform, independent, or ''."""
    if bj.range_problem(values, mode, config):
        return "range"
    if bj.uniform_problem(values, mode, config):
        return "uniform"
    if bj.independence_problem(values, mode, config):
        return "independent"
    return ""


@pytest.mark.parametrize("mode", list(bj.JITTER_MODES))
def test_simulated_correct_jitter_never_fails_and_its_distances_follow_the_ks_law(mode):
    from scipy.stats import kstwo

    rng = np.random.default_rng(20261121)
    distances = []
    for _ in range(60):
        for config in bj.CONFIGS:
            low, high = bj.jitter_range(mode, config.delay, config.spread)
            values = rng.uniform(low, high, bj.SAMPLES)
            assert judge(values, mode, config) == ""
            distances.append(bj.ks_uniform(values, low, high))
    # about 5% of correct samples exceed the KS law's 95% point: the statistic is computed right
    share = np.mean(np.array(distances) > kstwo.isf(0.05, bj.SAMPLES))
    assert 0.02 < share < 0.09


WRONG_LAWS = {
    "no jitter": lambda rng, low, high, n: np.full(n, (low + high) / 2),
    "80% of the range": lambda rng, low, high, n: rng.uniform(low, low + 0.8 * (high - low), n),
    "one side only": lambda rng, low, high, n: rng.uniform((low + high) / 2, high, n),
    "gaussian": lambda rng, low, high, n: rng.normal((low + high) / 2, (high - low) / 4, n),
    "reseeded": lambda rng, low, high, n: np.random.default_rng(7).uniform(low, high, 1).repeat(n),
    "neighbours correlated 0.5": lambda rng, low, high, n: low + (high - low) * correlated_uniforms(rng, n, 0.5),
}


def correlated_uniforms(rng, n: int, rho: float) -> np.ndarray:
    """Uniforms whose disjoint neighbour pairs have correlation about `rho` (a Gaussian copula)."""
    from scipy.stats import norm

    r = 2 * math.sin(math.pi * rho / 6)  # Pearson correlation of the normals giving Spearman rho
    first = rng.standard_normal(n // 2)
    second = r * first + math.sqrt(1 - r * r) * rng.standard_normal(n // 2)
    return norm.cdf(np.column_stack([first, second]).ravel())


@pytest.mark.parametrize("law", list(WRONG_LAWS))
def test_simulated_wrong_jitter_fails_every_time(law):
    rng = np.random.default_rng(11)
    config = bj.CONFIGS[3]
    for _ in range(100):
        low, high = bj.jitter_range("bounded", config.delay, config.spread)
        assert judge(WRONG_LAWS[law](rng, low, high, bj.SAMPLES), "bounded", config) != ""


def test_simulated_client_sleeps_are_compared_fairly():
    rng = np.random.default_rng(3)
    same = [bj.ks_two_sample(rng.uniform(0.8, 1.2, bj.CLIENT_RUNS), rng.uniform(0.8, 1.2, bj.SAMPLES)) for _ in range(300)]
    shifted = [bj.ks_two_sample(rng.uniform(0.3, 0.7, bj.CLIENT_RUNS), rng.uniform(0.8, 1.2, bj.SAMPLES))
               for _ in range(50)]
    assert max(same) < bj.TWO_SAMPLE_LIMIT < min(shifted)


def test_repeats_and_piling_at_the_cap_are_counted_exactly():
    values = np.array([16.0] * 30 + [15.6, 16.4])
    config = next(c for c in bj.CONFIGS if c.check == bj.CAP and c.delay == c.cap == 16.0)
    assert bj.repeats(values.tolist()) == 29
    assert "30 of 32 delays were exactly the cap, 16 s" in bj.range_problem(values, "bounded", config)


def test_the_solution_honours_every_jitter_mode_and_never_goes_below_zero():
    import importlib.util

    spec = importlib.util.spec_from_file_location("solution_client", SOLUTIONS / "oas3" / "client.py")
    client = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = client  # dataclasses look their module up there
    spec.loader.exec_module(client)
    ranges = {"full": (0.0, 4.0), "equal": (2.0, 4.0), "bounded": (3.5, 4.5)}
    for jitter, (low, high) in ranges.items():
        policy = client.RetryPolicy(jitter=jitter, base=1.0)
        draws = [client.backoff_delay(3, policy) for _ in range(2000)]
        assert low <= min(draws) and max(draws) <= high and max(draws) - min(draws) > 0.9 * (high - low), jitter
    tiny = client.RetryPolicy(base=0.1, spread=0.5, backoff="fixed")
    assert min(client.backoff_delay(1, tiny) for _ in range(2000)) >= 0.0
