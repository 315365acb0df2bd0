"""`bayes-zoo active-learn --data PATH [--target COLUMN]`: a user's UCI folder or CSV file runs end to end, and bad
data or a misplaced --target exit with usage status, the loader's message and nothing written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayes_zoo import cli

#: Small settings: one repeat, one batch beyond the initial labels, two strategies.
SMALL = ["--quick", "--repeats", "1", "--budget", "10", "--strategies", "acs-fw,random"]


def _table(n=60, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": X[:, 0] - 2 * X[:, 1] + 0.1 * rng.normal(size=n)})


def _uci_folder(path, table: pd.DataFrame):
    path.mkdir()
    np.savetxt(path / "data.txt", table.to_numpy())
    (path / "index_features.txt").write_text("".join(f"{j}\n" for j in range(table.shape[1] - 1)))
    (path / "index_target.txt").write_text(f"{table.shape[1] - 1}\n")
    return path


def test_a_user_folder_runs_and_writes_report_and_rounds(tmp_path):
    folder = _uci_folder(tmp_path / "my plants", _table())
    out = tmp_path / "out"
    assert cli.main(["active-learn", "--data", str(folder), *SMALL, "--out", str(out)]) == cli.EXIT_OK
    written = out / "active-learning-my-plants"
    rounds = pd.read_csv(written / "rounds.csv")
    assert set(rounds["dataset"]) == {"my-plants"} and rounds["n_labelled"].max() == 30
    assert f"- data: {folder}" in (written / "report.md").read_text()


def test_a_csv_runs_and_its_report_names_the_file_and_target(tmp_path):
    path = tmp_path / "plants.csv"
    _table().to_csv(path, index=False)
    out = tmp_path / "out"
    assert cli.main(["active-learn", "--data", str(path), "--target", "y", *SMALL, "--out", str(out)]) == cli.EXIT_OK
    report = (out / "active-learning-plants" / "report.md").read_text()
    assert f"User data from {path}: 60 rows, 2 features; y is column 'y'." in report and "- target: y" in report
    assert np.isfinite(pd.read_csv(out / "active-learning-plants" / "final.csv")["rmse"]).all()


def test_a_constant_feature_column_runs_with_finite_metrics(tmp_path):
    path = tmp_path / "const.csv"
    _table().assign(k=0.1).to_csv(path, index=False)  # 0.1: its float spread is ~1e-17, not 0
    out = tmp_path / "out"
    assert cli.main(["active-learn", "--data", str(path), "--target", "y", *SMALL, "--features", "linear",
                     "--out", str(out)]) == cli.EXIT_OK
    final = pd.read_csv(out / "active-learning-const" / "final.csv")
    assert np.isfinite(final[["rmse", "test_loglik"]]).all().all() and (final["rmse"] < 1.0).all()


BAD_DATA = {
    "non-numeric CSV value": ("bad.csv", "a,y\n1,2\n3,x\n5,6\n",
                              "non-numeric value 'x' in column 'y', first at line 3"),
    "NaN in a CSV": ("bad.csv", "a,y\n1,2\nnan,4\n5,6\n", "1 missing or non-finite value(s)"),
    "NaN in a folder": ("folder", "1 2\nnan 4\n5 6\n", "data.txt: 1 missing or non-finite value(s)"),
    "short line in a folder": ("folder", "1 2\n3\n5 6\n", "data.txt: line 2 has 1 values, but line 1 has 2"),
    "constant target in a CSV": ("bad.csv", "a,y\n1,2\n3,2\n5,2\n", "the target is the same (2) in every row"),
    "constant target in a folder": ("folder", "1 7\n3 7\n5 7\n", "the target is the same (7) in every row"),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_data_exits_2_with_the_loaders_message_and_writes_nothing(tmp_path, capsys, case):
    name, text, message = BAD_DATA[case]
    path = tmp_path / name
    if name == "folder":
        path.mkdir()
        (path / "data.txt").write_text(text)
        (path / "index_features.txt").write_text("0\n")
        (path / "index_target.txt").write_text("1\n")
    else:
        path.write_text(text)
    target = ["--target", "y"] if name.endswith(".csv") else []
    out = tmp_path / "out"
    assert cli.main(["active-learn", "--data", str(path), *target, "--out", str(out)]) == cli.EXIT_USAGE
    said = " ".join(capsys.readouterr().out.split())
    assert f"error: --data: {path}" in said and message in said
    assert not out.exists()


def test_a_missing_index_file_exits_2_naming_it(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "data.txt").write_text("1 2\n3 4\n")
    assert cli.main(["active-learn", "--data", str(folder), "--out", str(tmp_path / "out")]) == cli.EXIT_USAGE
    assert "missing index_features.txt, index_target.txt" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("source, target, message", [
    ("folder", ["--target", "y"], "is a UCI folder, whose index_target.txt names the target"),
    ("csv", [], "required with a CSV file"),
    ("bundled", ["--target", "y"], "not to the bundled yacht"),
], ids=["target-with-folder", "no-target-with-csv", "target-with-dataset"])
def test_a_misplaced_or_missing_target_exits_2(tmp_path, capsys, source, target, message):
    if source == "bundled":
        data = ["--dataset", "yacht"]
    elif source == "folder":
        data = ["--data", str(_uci_folder(tmp_path / "mine", _table()))]
    else:
        _table().to_csv(tmp_path / "t.csv", index=False)
        data = ["--data", str(tmp_path / "t.csv")]
    out = tmp_path / "out"
    assert cli.main(["active-learn", *data, *target, "--out", str(out)]) == cli.EXIT_USAGE
    said = " ".join(capsys.readouterr().out.split())
    assert "error: --target:" in said and message in said and not out.exists()


@pytest.mark.parametrize("sources", [["--dataset", "yacht", "--data", "x.csv"], []], ids=["both", "neither"])
def test_exactly_one_of_dataset_and_data_is_required(tmp_path, capsys, sources):
    with pytest.raises(SystemExit) as stop:
        cli.main(["active-learn", *sources, "--out", str(tmp_path / "out")])
    assert stop.value.code == cli.EXIT_USAGE and "--data" in capsys.readouterr().err


def test_a_budget_beyond_a_user_pool_exits_2_naming_the_data(tmp_path, capsys):
    path = tmp_path / "small.csv"
    _table(n=40).to_csv(path, index=False)
    assert cli.main(["active-learn", "--data", str(path), "--target", "y", "--budget", "20",
                     "--out", str(tmp_path / "out")]) == cli.EXIT_USAGE
    assert "error: --budget: 20 labels beyond the 20 initial ones would empty the pool of small" in \
        " ".join(capsys.readouterr().out.split())


def test_a_path_neither_folder_nor_csv_exits_2(tmp_path, capsys):
    (tmp_path / "t.xlsx").write_text("")
    status = cli.main(["active-learn", "--data", str(tmp_path / "t.xlsx"), "--out", str(tmp_path / "o")])
    assert status == cli.EXIT_USAGE
    assert "neither a folder (UCI layout) nor a .csv file" in capsys.readouterr().out
