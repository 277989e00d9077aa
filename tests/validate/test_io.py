"""Checkpoint resume is bit-identical; bad data fails clearly with nothing written; sweeps."""

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from mftsym.errors import SpecError
from mftsym.validate import DataError, GradientDescent, Langevin, load_data, run_ensemble, sweep, teacher_data, validate

from .conftest import make_spec


def _same(a, b):
    for key in ("mean_f", "mean_f2", "train_loss", "qbar"):
        np.testing.assert_array_equal(a[key], b[key])


@pytest.mark.parametrize("noise", ["member", "chunk"])
def test_checkpoint_resume_is_identical(tmp_path, noise):
    spec = make_spec("erf", 1, "ntk")
    data = teacher_data(6, 4, 3, seed=0)
    tr = Langevin(step_size=2e-3, steps=120, burn_in=20, thin=5, noise=noise)
    ref = run_ensemble(spec, data, 32, 3, tr, seed=5)
    ck = tmp_path / "ck"
    stopped = run_ensemble(spec, data, 32, 3, tr, seed=5, checkpoint_dir=ck, checkpoint_every=25, _stop_at_step=60)
    assert stopped == {"interrupted_at": 60}
    assert json.loads((ck / "latest.json").read_text())["step"] == 50
    assert len(list(ck.glob("step_*/member_*.pt"))) == 3          # one generation, one file per member
    resumed = run_ensemble(spec, data, 32, 3, tr, seed=5, checkpoint_dir=ck, checkpoint_every=25)
    _same(ref, resumed)
    # a different configuration refuses the checkpoint instead of silently mixing runs
    with pytest.raises(Exception, match="different run"):
        run_ensemble(spec, data, 32, 3, tr, seed=6, checkpoint_dir=ck, checkpoint_every=25)


def test_members_do_not_depend_on_chunking_or_executor(tmp_path):
    spec = make_spec("erf", 1, "ntk")
    data = teacher_data(6, 4, 3, seed=0)
    tr = GradientDescent(lr=0.05, steps=30)
    one = sweep(spec, data, [16], 4, tr, chunks=1)[16]
    with ThreadPoolExecutor(2) as ex:
        two = sweep(spec, data, [16], 4, tr, chunks=2, executor=ex, out_dir=tmp_path)[16]
    np.testing.assert_allclose(one["mean_f"], two["mean_f"], rtol=1e-12)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["N16_m00000.npz", "N16_m00002.npz"]
    again = sweep(spec, data, [16], 4, tr, chunks=2, out_dir=tmp_path)[16]       # loaded, not recomputed
    np.testing.assert_array_equal(again["mean_f"], two["mean_f"])
    # per-width sizes: more members at one width reuse its finished chunks and keep their seeds
    more = sweep(spec, data, [8, 16], {8: 2, 16: 6}, tr, chunks={8: 1, 16: 3}, out_dir=tmp_path)
    assert more[8]["members"] == 2 and more[16]["members"] == 6
    np.testing.assert_array_equal(more[16]["mean_f"][:4], two["mean_f"])
    with pytest.raises(Exception, match="no entry for widths"):
        validate(spec, data, [8, 16], {8: 2}, tmp_path / "x", trainer=tr, progress=False)


@pytest.mark.parametrize("change,message", [
    (lambda d: d.update(x_train=d["x_train"][:, :1].ravel()), "x_train must be 2-D"),
    (lambda d: d.update(y_train=d["y_train"][:-1]), "y_train has 5 rows but x_train has 6"),
    (lambda d: d["x_test"].__setitem__((1, 2), np.nan), "x_test contains 1 NaN"),
    (lambda d: d.update(x_test=d["x_test"][:, :2]), "x_test has dimension 2"),
    (lambda d: d.pop("x_test"), "missing array"),
])
def test_bad_data_clear_error_and_nothing_written(tmp_path, change, message):
    arrays = teacher_data(6, 4, 3, seed=0).arrays()
    arrays = {k: np.array(v) for k, v in arrays.items()}
    change(arrays)
    path = tmp_path / "DATA.npz"
    np.savez(path, **arrays)
    out = tmp_path / "out"
    with pytest.raises(DataError, match=message):
        validate(make_spec(), path, [8], 2, out, trainer=GradientDescent(0.1, 5), progress=False)
    assert not out.exists()


def test_missing_file_and_bad_spec_nothing_written(tmp_path):
    with pytest.raises(DataError, match="no such data file"):
        load_data(tmp_path / "nope.npz")
    data = teacher_data(6, 4, 3, seed=0)
    out = tmp_path / "out"
    with pytest.raises(SpecError, match="noise_var"):
        spec = make_spec()
        from mftsym.spec import Spec
        d = spec.to_dict()
        d.pop("posterior")
        validate(Spec.from_dict(d), data, [8], 2, out, trainer=Langevin(1e-3, 20, 5), progress=False)
    with pytest.raises(SpecError, match="ntk parametrization"):
        validate(make_spec(param="standard"), data, [8], 2, out, trainer=GradientDescent(0.1, 5), progress=False)
    assert not out.exists()


def test_validate_writes_report(tmp_path):
    spec = make_spec("erf", 1, "ntk")
    data = teacher_data(6, 4, 3, seed=0)
    custom = {"gp": "gp", "zero": lambda spec, data: {"mean": np.zeros((len(data.x_test), 1))}}
    from mftsym.validate.theory import THEORIES
    rep = validate(spec, data, [16, 32], 3, tmp_path, trainer=Langevin(2e-3, 200, 50, 5), progress=False,
                   theory={"gp": THEORIES["gp"], "zero": custom["zero"]})
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["widths"][0]["observables"]["mean"]["discrepancy"].keys() == {"gp", "zero"}
    assert "slope" in saved["scaling"]["gp"]["mean"]
    assert (tmp_path / "report.md").read_text().startswith("# mftsym validation report")
    assert (tmp_path / "prediction_vs_theory.png").stat().st_size > 1000
    assert (tmp_path / "learning_curves.png").stat().st_size > 1000       # Langevin's loss trace
    assert "learning_curves.png" in (tmp_path / "report.md").read_text()
    assert not list(tmp_path.glob(".*.tmp"))


def test_langevin_traces_the_training_loss_burn_in_included():
    spec = make_spec("erf", 1, "ntk", noise_var=0.01)
    data = teacher_data(8, 4, 3, seed=0)
    tr = Langevin(2e-3, 450, 100, 5)
    out = run_ensemble(spec, data, 32, 3, tr, seed=1)
    assert out["curve_loss"].shape == (3, 225) and out["curve_steps"][:3] == [1, 3, 5]
    # noise_var = 0.01: the posterior fits the data far better than the prior draw it starts from
    assert np.all(out["curve_loss"][:, 0] > out["curve_loss"][:, -20:].mean(1))   # the prior draw fits worse


def test_sweep_on_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    spec = make_spec("erf", 1, "ntk")
    data = teacher_data(6, 4, 3, seed=0)
    tr = GradientDescent(lr=0.05, steps=30)
    ref = sweep(spec, data, [16, 32], 4, tr, chunks=2)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        res = sweep(spec, data, [16, 32], 4, tr, chunks=2, executor=client.get_executor(), out_dir=tmp_path)
    for w in (16, 32):
        np.testing.assert_allclose(res[w]["mean_f"], ref[w]["mean_f"], rtol=1e-12)
    assert len(list((tmp_path / "runs").glob("*.npz"))) == 4


def test_cli_hook(tmp_path):
    import argparse

    from mftsym.validate.cli import add_parser
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    data = tmp_path / "DATA.npz"
    teacher_data(6, 4, 3, seed=0).save(data)
    spec = tmp_path / "spec.toml"
    make_spec().save(spec)
    args = parser.parse_args(["validate", str(spec), "--data", str(data), "--widths", "8,16", "--ensemble", "2",
                              "--out", str(tmp_path / "out"), "--trainer", "gd", "--steps", "5", "--no-progress"])
    assert args.func(args) == 0
    assert (tmp_path / "out" / "report.json").is_file()
    args = parser.parse_args(["validate", str(spec), "--data", str(data), "--widths", "8", "--ensemble", "2",
                              "--out", str(tmp_path / "lv"), "--steps", "40", "--burn-in", "10", "--thin", "5",
                              "--integrator", "euler", "--noise", "chunk", "--no-progress"])
    assert args.func(args) == 0
    trainer = json.loads((tmp_path / "lv" / "report.json").read_text())["trainer"]
    assert trainer["noise"] == "chunk" and "integrator" not in trainer          # euler: the old default, left out
