#!/usr/bin/env python3
"""tests/distributed/scaling_model_test.py: the data-parallel scaling model (lab 09, section 5).

Checks tests/bench/scaling_model.py on numbers worked by hand: the ring's cost, the two fits
recovering known parameters, the efficiency definitions, and its error on a bad bench file.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import scaling_model as sm  # noqa: E402


class RingCost(unittest.TestCase):
    def test_one_rank_communicates_nothing(self):
        self.assertEqual(sm.ring_allreduce_s(1, 1e6, 1e-5, 1e9), 0.0)

    def test_hand_worked_case(self):
        # N = 4, S = 8 MB, alpha 10 us, beta 1 GB/s: 6 latencies + 1.5 * 8 MB / 1 GB/s.
        self.assertAlmostEqual(sm.ring_allreduce_s(4, 8e6, 1e-5, 1e9), 6e-5 + 0.012, places=12)

    def test_bytes_per_rank_stop_growing(self):
        # Without latency the ring costs at most 2 S / beta, however many ranks.
        t = [sm.ring_allreduce_s(n, 1e6, 0.0, 1e9) for n in (2, 8, 64, 1024)]
        self.assertEqual(t, sorted(t))
        self.assertLess(t[-1], 2e-3)
        self.assertAlmostEqual(t[0], 1e-3)


class Fits(unittest.TestCase):
    def test_interpolator_is_exact_at_measured_rows_and_linear_between(self):
        f = sm.interpolator([(100, 0.052), (4, 0.004), (50, 0.027)])
        self.assertEqual(f(4), 0.004)
        self.assertEqual(f(100), 0.052)
        self.assertAlmostEqual(f(75), 0.0395)

    def test_interpolator_refuses_to_extrapolate(self):
        f = sm.interpolator([(4, 0.004), (100, 0.052)])
        with self.assertRaises(ValueError):
            f(200)
        with self.assertRaises(ValueError):
            f(2)

    def test_fit_link_recovers_alpha_and_beta(self):
        pts = [(n, s, sm.ring_allreduce_s(n, s, 7e-6, 3e9))
               for n in (2, 4) for s in (5e5, 4e6, 1.6e7)]
        alpha, beta = sm.fit_link(pts)
        self.assertAlmostEqual(alpha, 7e-6, places=12)
        self.assertAlmostEqual(beta / 3e9, 1.0, places=9)

    def test_fit_link_refuses_a_single_size(self):
        with self.assertRaises(ValueError):
            sm.fit_link([(2, 1e6, 1e-3)])


class Efficiency(unittest.TestCase):
    # T_compute(b) = 2 ms + 0.5 ms * b, measured at the rows the tests ask for.
    compute = staticmethod(sm.interpolator([(b, 0.002 + 0.0005 * b) for b in (4, 25, 50, 100)]))

    def test_one_process_is_fully_efficient(self):
        self.assertAlmostEqual(sm.strong(self.compute, 1, 1e-5, 1e9, 0.0)["efficiency"], 1.0)
        self.assertAlmostEqual(sm.weak(self.compute, 1, 100, 1e-5, 1e9, 0.0)["efficiency"], 1.0)

    def test_strong_scaling_pays_the_fixed_cost_on_every_rank(self):
        # Free communication: T(1) = 52 ms, T(4) = 2 + 12.5 = 14.5 ms; eff = 52 / 58.
        p = sm.strong(self.compute, 4, 0.0, float("inf"), 0.0)
        self.assertEqual(p["rows"], 25)
        self.assertAlmostEqual(p["efficiency"], 52 / 58)

    def test_weak_scaling_loses_only_the_all_reduce(self):
        p = sm.weak(self.compute, 8, 100, 1e-5, 1e9, 0.0)
        t_comm = sm.ring_allreduce_s(8, sm.GRADIENT_FLOATS * 4, 1e-5, 1e9)
        self.assertAlmostEqual(p["efficiency"], 0.052 / (0.052 + t_comm))

    def test_overlap_is_bounded_by_the_backward_left_to_hide_behind(self):
        p = sm.predict(self.compute, 8, 100, 1e-5, 1e9, embedding_backward_s=1e-4)
        self.assertAlmostEqual(p["overlap_saves_at_most_s"], 1e-4)
        p = sm.predict(self.compute, 8, 100, 1e-5, 1e9, embedding_backward_s=1.0)
        early = (sm.GRADIENT_FLOATS - sm.EMBEDDING_FLOATS) * 4
        self.assertAlmostEqual(p["overlap_saves_at_most_s"],
                               sm.ring_allreduce_s(8, early, 1e-5, 1e9))


class Report(unittest.TestCase):
    bench = {
        "local_steps": [{"rows": b, "step_ms_median": 2 + 0.5 * b} for b in (100, 50, 25, 4)],
        "allreduce": [{"procs": 2, "bytes": s, "time_us_median":
                       1e6 * sm.ring_allreduce_s(2, s, 5e-6, 5e9)} for s in (5e5, 4e6, 1.6e7)],
        "embedding_backward": [{"rows": 100, "time_us_median": 300.0}],
        "steps": [{"procs": 1, "step_ms_median": 52.0, "efficiency": 1.0},
                  {"procs": 2, "step_ms_median": 27.2, "efficiency": 0.95}],
    }

    def test_the_check_predicts_the_two_process_step(self):
        lines, out = sm.report(self.bench)
        self.assertAlmostEqual(out["alpha_s"], 5e-6, places=12)
        two = out["check"][1]
        expected = 0.002 + 0.0005 * 50 + sm.ring_allreduce_s(2, sm.GRADIENT_FLOATS * 4, 5e-6, 5e9)
        self.assertAlmostEqual(two["step_s"], expected)
        self.assertTrue(any(line.startswith("check N = 2") for line in lines))
        self.assertEqual(len(out["cluster"]), 6 * len(sm.LINKS))

    def test_a_bench_file_without_one_process_rows_is_named(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"steps": [], "allreduce": []}, f)
        try:
            r = subprocess.run([sys.executable, sm.__file__, f.name], capture_output=True,
                               text=True)
        finally:
            os.unlink(f.name)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f.name, r.stderr)
        self.assertIn("local_steps", r.stderr)


if __name__ == "__main__":
    unittest.main()
