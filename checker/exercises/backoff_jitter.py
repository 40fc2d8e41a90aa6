"""`backoff-jitter`: without Retry-After, delays follow the policy, and the jitter is really random.

The learner declares one jitter in `RetryPolicy.jitter`; for a delay `d` (the
policy's delay before jitter: `base` for fixed backoff, `min(cap, base * 2 **
(retry - 1))` for exponential) each declares a range, and a correct
`backoff_delay` draws uniformly from it, independently on every call:

    "bounded"  d - spread … d + spread   (seed 001's table, in the lesson: 1 s ± 0.5 s, 2 s ± 0.5 s, …)
    "full"     0 … d
    "equal"    d/2 … d

The driver (`checker.drivers.retry_backoff`) has the sandbox call `backoff_delay` n = 2500 times
for each of 8 configurations (fixed, exponential, and capped exponential
policies at several retries), and watches `get_with_retries` sleep through 200
calls against a server that never sends Retry-After. Then, per configuration:

1. **range** (checks FIXED, EXPONENTIAL, CAP): every value lies in the declared
   range (floating-point slack 1e-9 s), and where the delay is the cap, fewer
   than 24 values equal the cap exactly (a jitter clipped after capping piles
   them up there). A correct implementation never fails the first part, and
   the second only as rarely as the repeat count below.
2. **uniform** (UNIFORM), on configurations that passed 1: the Kolmogorov–Smirnov
   distance D between the values and the uniform law on the range must stay
   below c = sqrt(ln(2/a) / 2n). By the Dvoretzky–Kiefer–Wolfowitz inequality
   with Massart's constant, P(D > c) <= 2 exp(-2 n c^2) = a for a correct
   implementation, whatever n.
3. **independent** (INDEPENDENT), on configurations that passed 2: fewer than 24
   exactly repeated values, and lag-one correlation within +-r*, where r* comes
   from Bernstein's inequality on the n/2 independent products
   (u1 - 1/2)(u2 - 1/2) of disjoint pairs (each in [-1/4, 1/4], variance 1/144),
   so that P(|r| > r*) <= a. Repeats: with at least 2^40 equally likely values
   per draw, P(24 repeats) <= (C(n,2) 2^-40)^12 / 12! < 1e-70.
4. **client** (CLIENT), per retry 1..3: the client's sleeps against 2500 draws of
   `backoff_delay(retry, policy)` for the same policy, by the two-sample KS
   distance, allowed up to e_m + e_n with e_k = sqrt(ln(4/a) / 2k): by the
   triangle inequality and DKW on each sample, P(D > e_m + e_n) <= a.

Error rates, per grading run. There are 8 + 8 + 3 tests above, plus a share
for the repeat count, so a = 1e-6 / 20 = 5e-8 each (Bonferroni):

* a correct implementation fails with probability at most 1e-6 in all
  (`false_failure_bound()`; the exact KS tail, scipy's `kstwo`, is smaller still);
* per configuration (n = 2500, c = 0.059) a jitter whose law is at KS distance
  delta >= 0.1 from the declared one fails with probability at least
  1 - 2 exp(-2 n (delta - c)^2) > 0.999 (`ks_power`): no jitter at all
  (delta = 0.5), jitter over half the range (0.25) or a sub-range covering at
  most 80% of it (>= 0.1), any jitter in the wrong place;
* any value outside the range fails check 1 for certain; a law putting
  0.2% or more of its mass outside fails with probability > 0.99;
* a generator reseeded on every call (1% or more repeats) fails for certain,
  and pairs of neighbours with correlation |rho| >= 0.5 fail with probability
  > 0.99 (Hoeffding on the same products);
* a client whose sleeps are at KS distance >= 0.5 from backoff_delay's (a
  retry number off by one, a fixed sleep, the default policy instead of the
  given one) fails with probability > 0.999.

tests/test_backoff_jitter.py checks these numbers, and by simulation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from checker.exercises import Exercise
from checker.exercises.common import lesson_hint
from checker.exercises.retry_after_client import (
    MODULE,
    SIGNATURE,
    describe_error,
    describe_found,
    first_few,
    missing_problem,
    process_problems,
    real_sleep_problem,
)
from checker.drivers.fakes import SAMPLING_LIMIT
from checker.results import ExerciseResult
from checker.submission import Submission

LESSON = "07-Client-Retries.ipynb"
SECTION = "Exercise backoff-jitter"
PROBE = "checker.drivers.retry_backoff:run"
KEY = "backoff-jitter"

RUNS = "oas3/client.py imports, and backoff_delay(retry, policy) returns a number of seconds"
DECLARED = 'RetryPolicy().jitter names the jitter you implement: "bounded", "full" or "equal"'
FIXED = "fixed backoff: every delay stays in the jitter range around `base`"
EXPONENTIAL = "exponential backoff: retry k stays in the jitter range around base × 2^(k−1)"
CAP = "exponential backoff stops growing at `cap`, and jitter is added after capping"
UNIFORM = "the jitter spreads evenly over its whole declared range (Kolmogorov–Smirnov test)"
INDEPENDENT = "the jitter is really random: no value repeats, and one delay does not predict the next"
CLIENT = "get_with_retries() sleeps backoff_delay(retry, policy) when a 503 has no Retry-After"

SAMPLES = 2500  #: draws of backoff_delay per configuration
CLIENT_RUNS = 200  #: calls of get_with_retries against a server without Retry-After
ALPHA = 1e-6  #: false-failure budget of one grading run, shared by all tests (Bonferroni)
REPEAT_LIMIT = 24  #: exactly repeated values that fail a configuration (about 1% of SAMPLES)
RANGE_SLACK = 1e-9  #: seconds of floating-point slack at both ends of a range

JITTER_MODES = {
    "bounded": "delay ± spread",
    "full": "0 … delay",
    "equal": "delay/2 … delay",
}

# -- messages ----------------------------------------------------------------------------
SAMPLING_FAILED = "{call} {problem}"
NOT_A_NUMBER = "returned {repr} (a {type}), not a number of seconds"
POLICY_FAILED = ("RetryPolicy({fields}) did not build a policy: {problem}. Keep the starter's RetryPolicy dataclass "
                 "with its fields max_attempts, backoff, base, cap, jitter and spread.")
SIGNATURE_OF_DELAY = "def backoff_delay(retry, policy=RetryPolicy())"
FIX_RUNS = "Keep the starter's names and signatures; backoff_delay() returns the seconds as a float."
FIX_REAL_SLEEP = ("backoff_delay() only works out the delay: return it, and let get_with_retries() wait through the "
                  "`sleep` it was given.")
UNDECLARED = ('RetryPolicy().jitter is {value}: declare the jitter your backoff_delay() adds, one of "bounded" '
              '(delay ± spread, as in the lesson\'s table), "full" (0 … delay) or "equal" (delay/2 … delay). The range '
              'and randomness checks run once it names one of them.')
RANGE_WRONG = "{config}: {outside} of {n} delays fell outside {range}; yours ranged {low:.4g}–{high:.4g} s{diagnosis}."
AS_IF = ", as if the delay before jitter were {delay:.3g} s"
PILED = ("{config}: {piled} of {n} delays were exactly the cap, {cap:g} s, where a jitter after capping spreads them "
         "over {range}")
LEAKS = ", so the jitter sometimes steps outside its range"
FIX_FIXED = 'With backoff="fixed" the delay before jitter is policy.base, for every retry.'
FIX_EXPONENTIAL = ('With backoff="exponential" retry k waits policy.base * 2 ** (k - 1) before jitter: 1, 2, 4, 8 … s '
                   "for base 1, the first retry being k = 1.")
FIX_CAP = ("Cap the delay first and add the jitter after: `delay = min(policy.cap, policy.base * 2 ** (retry - 1))`. "
           "Clipping after the jitter would pile clients up at exactly `cap` seconds: a synchronised retry storm again.")
FIX_LEAKS = "Jitter drawn with random.uniform(low, high) never leaves its range; random.gauss() can land anywhere."
NOT_UNIFORM = ("{config}: the delays should spread evenly over {range}, but {how} (Kolmogorov–Smirnov distance "
               "{d:.3f}; a correct random jitter stays below {limit:.3f} but for a chance of {alpha:.0e}).")
CONSTANT = "every one of them was {value:.6g} s: there is no jitter"
UNEVEN = "they covered {low:.4g}–{high:.4g} s, and half of them fell below {median:.4g} s where the middle is {middle:.4g} s"
FIX_UNIFORM = ('Draw the delay with random.uniform over the whole declared range: random.uniform(delay - policy.spread, '
               'delay + policy.spread) for "bounded", random.uniform(0, delay) for "full", random.uniform(delay / 2, '
               'delay) for "equal". If you meant another of these, declare it in RetryPolicy\'s `jitter`.')
REPEATS = "{config}: {repeats} of {n} delays repeated an earlier value exactly, where random draws repeat none"
SERIAL = ("{config}: each delay predicts the next (correlation {r:+.2f} between neighbours; independent draws stay "
          "within ±{limit:.2f})")
FIX_INDEPENDENT = ("Use the random module's own generator and seed nothing: `random.uniform(...)`. random.seed(...) or "
                   "random.Random(seed) inside backoff_delay() replays the same numbers on every call, and a jitter "
                   "computed from the clock follows the clock.")
CLIENT_PROBLEM = ("Against a server that answers 503 without Retry-After every time, with max_attempts={attempts}, "
                  "{call} should make {attempts} requests and {retries} sleeps.\n    Found: {found}.")
CLIENT_WRONG = ("retry {retry}: your client slept {low:.3g}–{high:.3g} s (median {median:.3g}), but "
                "backoff_delay({retry}, policy) gives {ref_low:.3g}–{ref_high:.3g} s (median {ref_median:.3g}) for the "
                "policy it was given, {policy} (Kolmogorov–Smirnov distance {d:.2f}; the same law would stay within "
                "{limit:.2f})")
FIX_CLIENT = ("When a retryable answer has no usable Retry-After, sleep `backoff_delay(retry, policy)`: `retry` "
              "numbers the retry about to be made (1 after the first request, so the number of the attempt that just "
              "failed), and `policy` is the one get_with_retries() "
              "was given. (If it does not retry at all yet, finish exercise retry-after-client first.)")


@dataclass(frozen=True)
class Config:
    """A policy and a retry number to sample backoff_delay at."""

    check: str  #: the check this configuration belongs to (CLIENT: reference draws for the client test)
    backoff: str
    base: float
    cap: float
    spread: float
    retry: int

    @property
    def delay(self) -> float:
        """The delay before jitter that the policy asks for."""
        if self.backoff == "fixed":
            return self.base
        return min(self.cap, self.base * 2 ** (self.retry - 1))

    def policy(self, max_attempts: int = 4) -> dict:
        return {"max_attempts": max_attempts, "backoff": self.backoff, "base": self.base, "cap": self.cap,
                "spread": self.spread}

    def describe(self) -> str:
        cap = f", cap {self.cap:g} s" if self.backoff == "exponential" else ""
        return f"retry {self.retry} with {self.backoff} backoff (base {self.base:g} s{cap}, spread {self.spread:g} s)"

    def call(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.policy().items() if k != "max_attempts")
        return f"backoff_delay({self.retry}, RetryPolicy({fields}))"


CONFIGS = [
    Config(FIXED, "fixed", 2.0, 16.0, 0.5, 1),
    Config(FIXED, "fixed", 2.0, 16.0, 0.5, 4),
    Config(EXPONENTIAL, "exponential", 1.0, 16.0, 0.5, 1),
    Config(EXPONENTIAL, "exponential", 1.0, 16.0, 0.5, 3),
    Config(EXPONENTIAL, "exponential", 0.5, 5.0, 0.25, 4),
    Config(CAP, "exponential", 1.0, 16.0, 0.5, 5),
    Config(CAP, "exponential", 1.0, 16.0, 0.5, 7),
    Config(CAP, "exponential", 0.5, 5.0, 0.25, 6),
]
#: the client's policy differs from RetryPolicy()'s defaults, so a client ignoring it is caught
CLIENT_CONFIGS = [Config(CLIENT, "exponential", 0.5, 1.5, 0.2, retry) for retry in (1, 2, 3)]
CLIENT_POLICY = CLIENT_CONFIGS[0].policy(max_attempts=len(CLIENT_CONFIGS) + 1)
RANGE_FIXES = {FIXED: FIX_FIXED, EXPONENTIAL: FIX_EXPONENTIAL, CAP: FIX_CAP}


# -- statistics --------------------------------------------------------------------------

TESTS = 2 * len(CONFIGS) + len(CLIENT_CONFIGS) + 1  #: α-spending tests, plus one share for the repeat count
ALPHA_EACH = ALPHA / TESTS


def ks_limit(n: int, alpha: float = ALPHA_EACH) -> float:
    """Largest KS distance a correct sample of n passes with: P(D > limit) <= alpha by DKW-Massart."""
    return math.sqrt(math.log(2 / alpha) / (2 * n))


def two_sample_limit(m: int, n: int, alpha: float = ALPHA_EACH) -> float:
    """Largest two-sample KS distance two samples of one law pass with, P <= alpha (DKW on each)."""
    return math.sqrt(math.log(4 / alpha) / (2 * m)) + math.sqrt(math.log(4 / alpha) / (2 * n))


def serial_limit(n: int, alpha: float = ALPHA_EACH) -> float:
    """Largest |lag-one correlation| of n independent uniforms, P <= alpha (Bernstein on disjoint pairs)."""
    pairs = n // 2
    log_term, bound, variance = math.log(2 / alpha), 0.25, pairs / 144
    linear = 2 * log_term * bound / 3
    threshold = (linear + math.sqrt(linear**2 + 8 * log_term * variance)) / 2
    return 12 * threshold / pairs


def ks_power(delta: float, n: int = SAMPLES, alpha: float = ALPHA_EACH) -> float:
    """Lower bound on the chance to fail a law at KS distance `delta` from the declared one (DKW)."""
    gap = delta - ks_limit(n, alpha)
    return 0.0 if gap <= 0 else max(0.0, 1 - 2 * math.exp(-2 * n * gap**2))


def repeat_bound(n: int = SAMPLES, limit: int = REPEAT_LIMIT, bits: int = 40) -> float:
    """Upper bound on P(at least `limit` repeats) among n draws with >= 2**bits equally likely values.

    `limit` repeats need limit/2 disjoint colliding pairs, each colliding with
    probability <= 2**-bits independently: P <= (C(n,2) 2**-bits)**(limit/2) / (limit/2)!.
    """
    pairs = limit // 2
    expected = n * (n - 1) / 2 * 2.0**-bits
    return math.exp(pairs * math.log(expected) - math.lgamma(pairs + 1))


def false_failure_bound() -> float:
    """Upper bound on the chance that a correct implementation fails one grading run."""
    ks = len(CONFIGS) * 2 * math.exp(-2 * SAMPLES * ks_limit(SAMPLES) ** 2)
    serial = len(CONFIGS) * ALPHA_EACH
    client = len(CLIENT_CONFIGS) * ALPHA_EACH
    repeats = len(CONFIGS) * repeat_bound()
    return ks + serial + client + repeats


KS_LIMIT = ks_limit(SAMPLES)
SERIAL_LIMIT = serial_limit(SAMPLES)
TWO_SAMPLE_LIMIT = two_sample_limit(CLIENT_RUNS, SAMPLES)


def jitter_range(mode: str, delay: float, spread: float) -> tuple[float, float]:
    """The range a declared jitter draws from, for a delay before jitter of `delay` seconds."""
    if mode == "bounded":
        return delay - spread, delay + spread
    if mode == "full":
        return 0.0, delay
    return delay / 2, delay


def describe_range(mode: str, config: Config) -> str:
    low, high = jitter_range(mode, config.delay, config.spread)
    words = {"bounded": f"{config.delay:g} s ± {config.spread:g} s", "full": f"0 to {config.delay:g} s",
             "equal": f"{config.delay / 2:g} to {config.delay:g} s"}[mode]
    return f"{low:g}–{high:g} s ({words}, “{mode}” jitter)"


def ks_uniform(values: np.ndarray, low: float, high: float) -> float:
    """KS distance between the sample and the uniform law on [low, high]."""
    u = np.sort(np.clip((np.asarray(values, dtype=float) - low) / (high - low), 0.0, 1.0))
    n = len(u)
    steps = np.arange(1, n + 1) / n
    return float(max(np.max(steps - u), np.max(u - (steps - 1 / n))))


def ks_two_sample(a: np.ndarray, b: np.ndarray) -> float:
    """KS distance between the empirical laws of two samples."""
    a, b = np.sort(np.asarray(a, dtype=float)), np.sort(np.asarray(b, dtype=float))
    points = np.concatenate([a, b])
    return float(np.max(np.abs(np.searchsorted(a, points, "right") / len(a) - np.searchsorted(b, points, "right") / len(b))))


def serial_correlation(values: np.ndarray, low: float, high: float) -> float:
    """Lag-one correlation estimated from disjoint neighbour pairs: 12 × mean of (u1 − ½)(u2 − ½)."""
    u = (np.asarray(values, dtype=float) - low) / (high - low) - 0.5
    pairs = u[: 2 * (len(u) // 2)].reshape(-1, 2)
    return float(12 * np.mean(pairs[:, 0] * pairs[:, 1]))


def repeats(values) -> int:
    return len(values) - len(set(values))


# -- judging -----------------------------------------------------------------------------


def range_problem(values: np.ndarray, mode: str, config: Config, jitters: bool = True) -> str | None:
    """Why some values are not where the declared jitter puts them, or None.

    `jitters` says whether the implementation jitters at all (elsewhere): only
    then do values piled up at the cap mean a jitter clipped after capping.
    """
    low, high = jitter_range(mode, config.delay, config.spread)
    outside = int(np.sum((values < low - RANGE_SLACK) | (values > high + RANGE_SLACK)))
    piled = int(np.sum(values == config.cap)) if config.check == CAP and jitters else 0
    if not outside and piled >= REPEAT_LIMIT:
        return PILED.format(config=config.describe(), piled=piled, n=len(values), cap=config.cap,
                            range=describe_range(mode, config))
    if not outside:
        return None
    if outside < len(values) / 2:
        diagnosis = LEAKS
    else:
        implied = (values.min() + values.max()) / 2 if mode == "bounded" else values.max()
        diagnosis = AS_IF.format(delay=implied) if abs(implied - config.delay) > 0.1 * config.delay else ""
    return RANGE_WRONG.format(config=config.describe(), outside=outside, n=len(values), range=describe_range(mode, config),
                              low=values.min(), high=values.max(), diagnosis=diagnosis)


def uniform_problem(values: np.ndarray, mode: str, config: Config) -> tuple[float, str] | None:
    low, high = jitter_range(mode, config.delay, config.spread)
    distance = ks_uniform(values, low, high)
    if distance <= KS_LIMIT:
        return None
    if values.min() == values.max():
        how = CONSTANT.format(value=values.min())
    else:
        how = UNEVEN.format(low=values.min(), high=values.max(), median=float(np.median(values)), middle=(low + high) / 2)
    return distance, NOT_UNIFORM.format(config=config.describe(), range=describe_range(mode, config), how=how,
                                        d=distance, limit=KS_LIMIT, alpha=ALPHA_EACH)


def independence_problem(values: np.ndarray, mode: str, config: Config) -> str | None:
    repeated = repeats(values.tolist())
    if repeated >= REPEAT_LIMIT:
        return REPEATS.format(config=config.describe(), repeats=repeated, n=len(values))
    low, high = jitter_range(mode, config.delay, config.spread)
    r = serial_correlation(values, low, high)
    if abs(r) > SERIAL_LIMIT:
        return SERIAL.format(config=config.describe(), r=r, limit=SERIAL_LIMIT)
    return None


def sampling_problems(run, configs: list[Config]) -> tuple[dict[int, np.ndarray], list[str]]:
    """The values of every configuration that sampled cleanly, and what went wrong with the others."""
    values, problems = {}, []
    for event in run.of("samples"):
        config = configs[event["index"]]
        if "values" in event:
            values[event["index"]] = np.asarray(event["values"], dtype=float)
            continue
        if "not_a_number" in event:
            problem = NOT_A_NUMBER.format(**event["not_a_number"])
        elif event["outcome"]["kind"] == "raised":
            error = event["outcome"]["error"]
            if error["type"] == "TypeError" and not error.get("line"):
                problems.append(SIGNATURE.format(call=config.call(), type=error["type"], text=error["text"],
                                                 signature=SIGNATURE_OF_DELAY))
                continue
            problem = f"raised {describe_error(error)}"
        else:
            problem = f"did not return {SAMPLES} values within {SAMPLING_LIMIT:g} s of real time: does it sleep or loop?"
        problems.append(SAMPLING_FAILED.format(call=config.call(), problem=problem))
    return values, sorted(set(problems), key=problems.index)


def policy_failed_problem(run) -> str | None:
    failed = run.first("policy-failed")
    if not failed:
        return None
    outcome = failed["outcome"]
    problem = f"it raised {describe_error(outcome['error'])}" if outcome["kind"] == "raised" else "it did not finish"
    fields = ", ".join(f"{k}={v!r}" for k, v in failed["fields"].items())
    return POLICY_FAILED.format(fields=fields, problem=problem)


def probe_args() -> dict:
    configs = CONFIGS + CLIENT_CONFIGS
    return {"module": MODULE, "probe": PROBE, "preload": ("httpx",), "samples": SAMPLES,
            "configs": [{"policy": c.policy(), "retry": c.retry} for c in configs],
            "client": {"policy": CLIENT_POLICY, "runs": CLIENT_RUNS}}


def prestart(submission: Submission) -> None:
    """Start the probe early, so the sampling runs while other exercises are graded."""
    submission.start_probe(KEY, **probe_args())


def grade_client(run, values: dict[int, np.ndarray], result: ExerciseResult, hint: str) -> None:
    offset = len(CONFIGS)
    references = [values.get(offset + i) for i in range(len(CLIENT_CONFIGS))]
    if any(reference is None for reference in references):
        return  # backoff_delay itself failed for the client's policy: reported under RUNS
    problem = run.first("client-problem")
    if problem:
        found = describe_found({**problem, "requests": problem["requests"]})
        message = CLIENT_PROBLEM.format(attempts=CLIENT_POLICY["max_attempts"], retries=len(CLIENT_CONFIGS),
                                        call="get_with_retries()", found=found)
        result.add(CLIENT, False, f"{message}\n{FIX_CLIENT} {hint}")
        return
    sleeps = run.first("client-sleeps")
    if not sleeps:
        return  # the process ended before: reported under RUNS
    wrong = []
    fields = ", ".join(f"{k}={v!r}" for k, v in CLIENT_POLICY.items())
    for config, slept, reference in zip(CLIENT_CONFIGS, sleeps["sleeps"], references):
        slept = np.asarray(slept, dtype=float)
        distance = ks_two_sample(slept, reference)
        if distance > TWO_SAMPLE_LIMIT:
            wrong.append(CLIENT_WRONG.format(
                retry=config.retry, low=slept.min(), high=slept.max(), median=float(np.median(slept)),
                ref_low=reference.min(), ref_high=reference.max(), ref_median=float(np.median(reference)),
                policy=f"RetryPolicy({fields})", d=distance, limit=TWO_SAMPLE_LIMIT))
    result.add(CLIENT, not wrong, "\n".join(wrong) + f"\n{FIX_CLIENT} {hint}",
               info=f"{CLIENT_RUNS} calls, sleeps compared with backoff_delay() retry by retry")


def grade(submission: Submission, result: ExerciseResult) -> None:
    """Judge the policy by the range of each configuration, then the jitter's shape and randomness."""
    hint = lesson_hint(LESSON, SECTION)
    run = submission.probe_run(KEY, **probe_args())
    configs = CONFIGS + CLIENT_CONFIGS
    values, problems = sampling_problems(run, configs)
    problems = process_problems(run) + [p for p in (missing_problem(run), policy_failed_problem(run)) if p] + problems
    real = real_sleep_problem([entry for event in run.of("samples") for entry in event["sleeps"]], FIX_REAL_SLEEP)
    if real:
        problems.append(real)
    result.add(RUNS, not problems, "\n".join(problems) + (f"\n{FIX_RUNS} {hint}" if problems else ""))
    if not values:
        return  # nothing came back to judge
    declared = run.first("declared") or {}
    mode = declared.get("jitter")
    if mode not in JITTER_MODES:
        value = describe_error(declared["outcome"]["error"]) if declared.get("outcome") else repr(mode)
        result.add(DECLARED, False, f"{UNDECLARED.format(value=value)} {hint}")
    else:
        result.add(DECLARED, True, info=f"“{mode}”: {JITTER_MODES[mode]}")
        grade_shape(values, mode, result, hint)
    grade_client(run, values, result, hint)


def grade_shape(values: dict[int, np.ndarray], mode: str, result: ExerciseResult, hint: str) -> None:
    in_range = []
    jitters = any(v.min() != v.max() for i, v in values.items() if i < len(CONFIGS) and CONFIGS[i].check != CAP)
    for check, fix in RANGE_FIXES.items():
        judged = [(i, c) for i, c in enumerate(CONFIGS) if c.check == check and i in values]
        if not judged:
            continue
        wrong = []
        for index, config in judged:
            problem = range_problem(values[index], mode, config, jitters)
            if problem:
                wrong.append(problem)
            else:
                in_range.append(index)
        leaks = any(LEAKS in w for w in wrong)
        result.add(check, not wrong, "\n".join(first_few(wrong)) + f"\n{fix}{' ' + FIX_LEAKS if leaks else ''} {hint}")
    if not in_range:
        return  # the shape of a jitter in the wrong place tells nothing more
    uneven = [(p, i) for i in sorted(in_range) if (p := uniform_problem(values[i], mode, CONFIGS[i]))]
    result.add(UNIFORM, not uneven, "\n".join(first_few([p[1] for p, _ in sorted(uneven, key=lambda x: -x[0][0])])) +
               f"\n{FIX_UNIFORM} {hint}", info=f"judged on {len(in_range)} of {len(CONFIGS)} configurations")
    even = [i for i in sorted(in_range) if i not in {i for _, i in uneven}]
    if not even:
        return
    dependent = [p for i in even if (p := independence_problem(values[i], mode, CONFIGS[i]))]
    result.add(INDEPENDENT, not dependent, "\n".join(first_few(dependent)) + f"\n{FIX_INDEPENDENT} {hint}")


EXERCISE = Exercise(
    id="backoff-jitter",
    title="Backoff without Retry-After: fixed or exponential with a cap, plus a jitter that is really random",
    lesson=LESSON,
    points=3,
    grade=grade,
    prestart=prestart,
)
