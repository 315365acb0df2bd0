"""Reports: the Rich table printed as a pair finishes, and the files written under ``--out``.

Layout written by :func:`write_outcome` for a pair called ``NAME``::

    OUT/NAME/report.md          setup, verdict, comparison and diagnostics tables, the pair's own sections, figures
    OUT/NAME/report.html        the same as one self-contained web page (figures embedded, verdicts coloured)
    OUT/NAME/summary.csv        every z-test of the cross-validation (one row per comparison x quantity x statistic)
    OUT/NAME/diagnostics.csv    R-hat, bulk and tail ESS per result and quantity
    OUT/NAME/checks.csv         the deterministic identities, when the pair has some
    OUT/NAME/<result>.nc        each result's InferenceData (netCDF, ArviZ's ``to_netcdf``)
    OUT/NAME/<figure>.png       figures

:func:`write_index` writes ``OUT/report.md`` over all pairs run (and :meth:`Output.commit_index` ``OUT/report.html``
from it).  Every ``report.md`` has a self-contained ``report.html`` beside it (:mod:`bayes_zoo.html_report`).

Results are never lost and never half-written (:class:`Output`, used by every command of the CLI):

- **Checked first.**  Before any work, ``OUT`` is created if missing (a path through a file, or where no
  folder can be made, such as ``/proc/x``, is refused), each target (``OUT/NAME``, and ``OUT/report.md`` for
  ``compare all``) is checked (a file where a results folder belongs is refused; existing results are
  refused unless ``force``), and an empty temporary folder ``OUT/.NAME.partial-XXXX`` is created beside each
  target, which proves ``OUT`` writable.  Every refusal is a ``ValueError`` starting with ``--out:``.
- **Locked.**  Each target is locked for the whole run (``fcntl.flock`` on ``OUT/.NAME.lock``, removed at the
  end): a second run to the same target is refused at once, naming the run that holds it.  The kernel
  releases the lock when a process dies, however it dies.
- **Written aside, moved in whole.**  A target's files are written into its temporary folder, which is renamed
  into place only when complete (same parent, so the rename is atomic).  With ``force``, old results are
  replaced only then: the two folders are swapped in one atomic ``renameat2(RENAME_EXCHANGE)`` where Linux
  offers it (else the old folder is renamed aside and the new one in, a window of microseconds), then the old
  one is deleted.  Ctrl-C is held off during the swap.  ``report.md`` and ``report.html`` are written to
  temporary files and moved in by ``os.replace``.
- **Nothing partial.**  A run that fails or is interrupted removes its temporary folders and its locks (and
  ``OUT`` itself if it created it and it is still empty); targets not yet committed keep their previous
  contents.  Temporary folders left by a killed process (``kill -9``) are removed by the next run that locks
  the same target.  :meth:`Output.state` says, in one line, what was written and what was not.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import secrets
import shutil
import signal
import threading
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from rich.markup import escape
from rich.table import Table

from bayes_zoo.inference.crossval import (CONFIRM_FACTOR, GROSS_FACTOR, POWER, PROTOCOL_ALPHA, RHAT_GROSS, STAGE_ALPHA,
                                          STATISTICS)
from bayes_zoo.html_report import write_html
from bayes_zoo.inference.diagnostics import beyond
from bayes_zoo.models.backend import blas_status
from bayes_zoo.registry import PairOutcome
from bayes_zoo.tables import markdown_table

__all__ = ["Output", "comparison_frame", "rich_table", "rich_checks", "write_outcome", "write_index", "sampling_times"]

_VERDICT_STYLE = {"agree": "bold green", "disagree": "bold red", "inconclusive": "bold yellow"}


class Output:
    """The results one run writes under ``out``: checked, locked, written aside and moved in when complete.

    The protocol is in the module docstring.  Use::

        output = Output(out, ["normal-gamma"], force=False)
        output.open()                       # ValueError "--out: ..." before any work
        try:
            write_outcome(outcome, output.staging("normal-gamma"))
            output.commit("normal-gamma")   # OUT/normal-gamma now holds the new results, whole
        finally:
            output.close()                  # temporary folders and locks removed

    Parameters
    ----------
    out : path
        The ``--out`` folder.
    names : list of str
        The result folders to write, ``OUT/NAME`` each.
    force : bool
        Replace existing results (only when the new ones are complete).
    index : bool
        Also write ``OUT/report.md`` and ``OUT/report.html`` (:meth:`commit_index`).
    """

    INDEX = "report.md"
    INDEX_HTML = "report.html"  # the same index as a web page (bayes_zoo.html_report), committed with it

    def __init__(self, out, names, *, force: bool, index: bool = False):
        self.out = Path(out)
        self.names = list(names)
        self.force = bool(force)
        self.index = bool(index)
        self.written: list[Path] = []  # targets committed, in order
        self._staging: dict[str, Path] = {}
        self._locks: dict[str, tuple[int, Path]] = {}
        self._trash: list[Path] = []
        self._created: list[Path] = []  # folders this run made, outermost first

    # -- before any work --------------------------------------------------------------------------------------

    def open(self) -> None:
        """Create ``out`` if needed, lock and check every target, make the temporary folders.

        Raises
        ------
        ValueError
            Starting with ``--out:``: ``out`` is a file, lies inside a file or cannot be created or written;
            a target is a file or a link where a folder belongs; a target holds results and ``force`` is
            False; another run holds a target's lock.
        """
        self._make_out()
        targets = self._targets()
        for name in targets:
            self._lock(name)
        taken = []
        for name in targets:
            target = self.out / name
            is_index = name in (self.INDEX, self.INDEX_HTML)
            if target.is_symlink():
                raise ValueError(f"--out: {target} is a symbolic link; results are replaced whole, never through a "
                                 f"link: remove it or choose another --out")
            if target.exists() and target.is_dir() == is_index:
                kind = "a folder" if is_index else "a file"
                raise ValueError(f"--out: {target} is {kind}, where bayes-zoo writes its "
                                 f"{'report' if is_index else 'results folder'}; remove it or choose another --out")
            if self._has_content(target):
                taken.append(target)
        if taken and not self.force:
            listed = ", ".join(str(t) for t in taken)
            raise ValueError(f"--out: {listed} already exist(s); pass --force to replace (only once the new results "
                             f"are complete), or choose another --out")
        for name in targets:
            self._remove_leftovers(name)
        for name in self.names:
            try:
                self._staging[name] = _new_folder(self.out, f".{name}.partial-")
            except OSError as err:
                raise ValueError(f"--out: cannot write in {self.out} ({err.strerror or err})") from None

    def _make_out(self) -> None:
        out = self.out
        if out.exists() and not out.is_dir():
            raise ValueError(f"--out: {out} exists and is not a folder")
        missing = []
        for folder in (out, *out.parents):
            if os.path.lexists(folder):
                break
            missing.append(folder)
        for folder in reversed(missing):
            try:
                folder.mkdir()
            except FileExistsError:
                if not folder.is_dir():
                    raise ValueError(f"--out: {folder} exists and is not a folder") from None
                continue  # made meanwhile by someone else: not ours to remove
            except OSError as err:
                why = "a part of the path is a file" if isinstance(err, NotADirectoryError) else err.strerror or err
                raise ValueError(f"--out: cannot create {out} ({why})") from None
            self._created.append(folder)
        if not out.is_dir():
            raise ValueError(f"--out: cannot create {out} (a part of the path is a file)")

    def _lock(self, name: str) -> None:
        path = self.out / f".{name}.lock"
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as err:
                raise ValueError(f"--out: cannot write in {self.out} ({err.strerror or err})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                holder = ""
                with contextlib.suppress(OSError):
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                os.close(fd)
                if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise ValueError(f"--out: cannot lock {path} ({err.strerror or err})") from None
                who = f" (pid {holder})" if holder.isdigit() else ""
                raise ValueError(f"--out: another bayes-zoo run{who} is writing {self.out / name}; wait for it to "
                                 f"finish or choose another --out") from None
            try:  # the holder before us may have removed the file on release: then lock the new one
                current = os.stat(path)
                mine = os.fstat(fd)
                same = (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino)
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._locks[name] = (fd, path)

    def _remove_leftovers(self, name: str) -> None:
        """Temporary folders of ``name`` left by a killed run (only the lock's holder makes them)."""
        prefixes = (f".{name}.partial-", f".{name}.old-")
        with os.scandir(self.out) as entries:
            stale = [Path(e.path) for e in entries if e.name.startswith(prefixes)]
        for path in stale:
            _remove(path)

    # -- during the run --------------------------------------------------------------------------------------

    def staging(self, name: str) -> Path:
        """The temporary folder to write ``name``'s files into (beside ``OUT/name``)."""
        return self._staging[name]

    def commit(self, name: str) -> Path:
        """Move ``name``'s complete temporary folder into place (replacing old results with ``force``)."""
        staged = self._staging[name]
        target = self.out / name
        with _interrupts_held():
            if os.path.lexists(target):
                if self._has_content(target) and not self.force:
                    raise FileExistsError(f"{target} appeared during the run; it was not replaced")
                self._trash.append(_exchange(staged, target))
            else:
                _rename_noreplace(staged, target)
            del self._staging[name]
            self.written.append(target)
        for path in self._trash:
            _remove(path)
        self._trash.clear()
        return target

    def commit_index(self, write) -> Path:
        """Write ``OUT/report.md`` by ``write(path)`` into a temporary file and ``OUT/report.html`` from it
        (:func:`bayes_zoo.html_report.render`) into another, then move both into place; returns the first."""
        from bayes_zoo.html_report import render

        targets = [self.out / self.INDEX, self.out / self.INDEX_HTML]
        tmps = [self.out / f".{t.name}.partial-{secrets.token_hex(4)}" for t in targets]
        for tmp in tmps:
            tmp.touch(exist_ok=False)  # the permissions a new file gets, unlike tempfile.mkstemp's 0600
            self._trash.append(tmp)
        write(tmps[0])
        tmps[1].write_text(render(tmps[0].read_text(encoding="utf-8"), self.out), encoding="utf-8")
        with _interrupts_held():
            for target in targets:
                if not self.force and self._has_content(target):
                    raise FileExistsError(f"{target} appeared during the run; it was not replaced")
            for tmp, target in zip(tmps, targets):
                os.replace(tmp, target)
                self._trash.remove(tmp)
                self.written.append(target)
        return targets[0]

    def _targets(self) -> list[str]:
        return self.names + ([self.INDEX, self.INDEX_HTML] if self.index else [])

    @staticmethod
    def _has_content(target: Path) -> bool:
        return target.is_file() or (target.is_dir() and any(target.iterdir()))

    # -- at the end, whatever happened -------------------------------------------------------------------------

    def close(self) -> None:
        """Remove the temporary folders not committed, release the locks, and remove ``out`` if this run created
        it and it is empty.  Safe to call more than once."""
        for path in [*self._staging.values(), *self._trash]:
            _remove(path)
        self._staging.clear()
        self._trash.clear()
        for fd, path in self._locks.values():
            with contextlib.suppress(OSError):
                os.unlink(path)  # while still holding it: a waiting run then sees a different file
            os.close(fd)
        self._locks.clear()
        for folder in reversed(self._created):
            try:
                folder.rmdir()
            except OSError:
                break
        self._created.clear()

    def state(self) -> str:
        """What this run wrote and did not write, in one line (for the last line a user reads)."""
        targets = self._targets()
        done = [str(self.out / n) for n in targets if self.out / n in self.written]
        kept, absent = [], []  # not written by this run, so as they were before it
        for name in targets:
            if self.out / name in self.written:
                continue
            (kept if self._has_content(self.out / name) else absent).append(str(self.out / name))
        if not done:
            parts = ["nothing new was written"]
        else:
            parts = [f"written in full: {', '.join(done)}"]
        if kept:
            parts.append(f"previous results untouched: {', '.join(kept)}")
        if absent:
            parts.append(f"not written: {', '.join(absent)}")
        return "; ".join(parts)


def _new_folder(parent: Path, prefix: str) -> Path:
    """A new empty folder ``parent/prefix<random>``, with the permissions ``mkdir`` gives (unlike
    ``tempfile.mkdtemp``'s 0700: the folder becomes the results)."""
    while True:
        path = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


@contextlib.contextmanager
def _interrupts_held():
    """Hold Ctrl-C (SIGINT) off while a target is moved into place; raise KeyboardInterrupt afterwards if one
    came.  Only the main thread can set signal handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


_AT_FDCWD, _RENAME_NOREPLACE, _RENAME_EXCHANGE = -100, 1, 2


def _renameat2(source: Path, target: Path, flags: int) -> bool:
    """Linux ``renameat2``; False where it does not exist or the file system does not support ``flags``."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.renameat2
    except (OSError, AttributeError):
        return False
    call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if call(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(target))


def _exchange(staged: Path, target: Path) -> Path:
    """Put ``staged`` at ``target`` and return where the old ``target`` went: one atomic swap where Linux offers
    it (the old one is then at ``staged``), else the old one renamed aside and the new one renamed in."""
    if _renameat2(staged, target, _RENAME_EXCHANGE):
        return staged
    aside = _new_folder(target.parent, f".{target.name}.old-")
    os.replace(target, aside)  # a folder may replace an empty folder
    os.rename(staged, target)
    return aside


def _rename_noreplace(staged: Path, target: Path) -> None:
    if not _renameat2(staged, target, _RENAME_NOREPLACE):
        os.rename(staged, target)


def sampling_times(idata, label: str) -> str:
    """A result's times for a report, from its ``posterior.attrs``: sampling apart from compiling.

    ``sampling_time`` is the sampling loop (warm-up or tuning included); a handwritten Gibbs sampler's
    ``compile_time`` (numba compiling its loop, or loading it from its disk cache, before that) and NUTS's
    ``setup_time`` (the rest of the call: compiling, initialising, converting the trace; in nutpie or
    ``pymc.sample`` as ``nuts_sampler`` says, with ``nuts_sampler_note`` when PyMC stood in for nutpie) are
    named apart when present.  E.g. ``"Gibbs: 0.0016 s sampling (warm-up included) after 0.47 s compiling
    (numba, or its disk cache)"``.

    Parameters
    ----------
    idata : arviz.InferenceData
        With ``posterior.attrs["sampling_time"]`` (seconds); ``compile_time``, ``setup_time`` optional.
    label : str
        Names the sampler, e.g. ``"Gibbs"``.

    Returns
    -------
    str
        One clause, no final full stop.

    Raises
    ------
    KeyError
        If the posterior has no ``sampling_time``.
    """
    attrs = idata.posterior.attrs
    text = f"{label}: {attrs['sampling_time']:.2g} s sampling (warm-up included)"
    if "compile_time" in attrs:
        text += f" after {attrs['compile_time']:.2g} s compiling (numba, or its disk cache)"
    if "setup_time" in attrs:
        where = {"nutpie": "nutpie (numba; 0 when the model was compiled before in the process)",
                 "pymc": "pymc.sample"}.get(attrs.get("nuts_sampler", "pymc"), "pymc.sample")
        text += f" after {attrs['setup_time']:.2g} s compiling and initialising in {where}"
    if "nuts_sampler_note" in attrs:
        text += f" ({attrs['nuts_sampler_note']})"
    return text


def comparison_frame(outcome: PairOutcome) -> pd.DataFrame:
    """Wide table: one row per (quantity, statistic); each result's estimate and MCSE, the exact value, z's.

    Returns
    -------
    pandas.DataFrame
        Columns ``quantity``, ``statistic``, ``<result>`` and ``<result> mcse`` per result, ``exact`` (when
        there is one), ``z <left>-<right>`` and ``s <left>-<right>`` (the test passed only within its ``saturation``
        tolerance) per comparison, ``ok`` (every test of the row passed) and ``detectable_sd`` (the largest
        smallest-detectable shift of the row's comparisons, in posterior sds).
    """
    cv = outcome.crossval
    frame = None
    for name, est in cv.estimates.items():
        cols = est.rename(columns={"estimate": name, "mcse": f"{name} mcse"})
        if name == "exact":
            cols = cols[[name]]
        frame = cols if frame is None else frame.join(cols, how="outer")
    wide = cv.table.set_index(["quantity", "statistic", "comparison"])[["z", "by_atol"]].unstack("comparison")
    order = list(cv.comparisons["comparison"])  # unstack sorts; keep the protocol's order
    names = [c.replace(" vs ", "-") for c in order]
    zs = wide["z"][order].set_axis([f"z {n}" for n in names], axis=1)
    marks = wide["by_atol"][order].fillna(False).astype(bool).set_axis([f"s {n}" for n in names], axis=1)
    frame = frame.join(zs, how="inner").join(marks)
    frame = frame.join(cv.table.groupby(["quantity", "statistic"], sort=False)["ok"].all())
    frame = frame.join(cv.table.groupby(["quantity", "statistic"], sort=False)["detectable_sd"].max())
    order = {s: i for i, s in enumerate(STATISTICS)}
    quantities = list(dict.fromkeys(cv.table["quantity"]))
    frame = frame.reset_index()
    frame["_q"] = frame["quantity"].map({q: i for i, q in enumerate(quantities)})
    frame["_s"] = frame["statistic"].map(order)
    return frame.sort_values(["_q", "_s"]).drop(columns=["_q", "_s"]).reset_index(drop=True)


def _fmt(value: float, mcse: float | None = None, digits: int = 5) -> str:
    """``value ±mcse`` as text; a value ArviZ could not compute is "nan", a non-finite MCSE "±? (MCSE not
    finite)"."""
    if pd.isna(value):
        return "nan"
    text = f"{value:.{digits}g}"
    if mcse is None or pd.isna(mcse):
        return text
    return f"{text} ±{mcse:.1g}" if np.isfinite(mcse) else f"{text} ±? (MCSE not finite)"


#: A |z| at or beyond this is printed as a bound (``>+999``) with a note saying why it is so large.
Z_PRINTED = 1000
#: The mark of a z cell explained under its table (the Rich caption; numbered notes in markdown).
Z_MARK = "†"


def _z_cell(z: float, by_atol: bool, ok: bool, threshold: float, *, rich: bool = False, note: str = "") -> str:
    """A z-score as text, sign kept; ``(s)`` marks a test passed within its ``saturation`` tolerance;
    ``–`` a statistic not compared (an exact moment that is not given).  A z that is not a number to read
    (infinite: ``undef``; ``|z| >=`` :data:`Z_PRINTED`: ``>+999``) carries ``note``, the mark of its
    explanation (:func:`z_explanation`), before ``(s)``."""
    if pd.isna(z):
        return "–"
    if np.isinf(z):
        text = "undef"
    else:
        text = f"{z:+.2f}" if abs(z) < Z_PRINTED else f"{'>+' if z > 0 else '<-'}999"
    if abs(z) >= Z_PRINTED:
        text += note
    text += ("(s)" if rich and note and abs(z) >= Z_PRINTED else " (s)") if by_atol else ""
    return f"[red]{text}[/]" if rich and abs(z) > threshold and not ok else text


def z_explanation(row) -> str | None:
    """Why the z-score of ``row`` (a row of ``CrossValidation.table``) is not a number to read, from the row's
    own values; None when it is (finite, ``|z| <`` :data:`Z_PRINTED`, or not computed).

    Returns
    -------
    str or None
        E.g. "gibbs vs exact, inclusion_probability[bmi] mean: z undefined: gibbs's MCSE is 0 and the exact
        reference has MCSE 0, so their combined MCSE is 0 and the difference +1.1e-16 is infinitely many MCSEs".
    """
    z = row["z"]
    if pd.isna(z) or abs(z) < Z_PRINTED:
        return None

    def mcse(side, value):
        if side == "exact":
            return "the exact reference has MCSE 0"
        return f"{side}'s MCSE is {value:.1g}" if value > 0 else f"{side}'s MCSE is 0"

    diff = row["estimate_left"] - row["estimate_right"]
    what = f"{row['comparison']}, {row['quantity']} {row['statistic']}"
    mcses = f"{mcse(row['left'], row['mcse_left'])} and {mcse(row['right'], row['mcse_right'])}"
    if np.isinf(z):
        text = (f"{what}: z undefined: {mcses}, so their combined MCSE is 0 and the difference {diff:+.2g} is "
                "infinitely many MCSEs")
    else:
        text = (f"{what}: |z| = {abs(z):.2g}, beyond 999: {mcses}; an MCSE this small next to the difference "
                f"{diff:+.2g} means the draws barely vary (a chain stuck at a bound, where the MCSE misses rare "
                "excursions), so the size of z says little")
    if row.get("by_atol", False):
        text += f"; the test passes within the saturation tolerance ±{row['atol']:.2g} (s)"
    elif not row["ok"]:
        text += "; the test fails"
    return text


def _z_notes(cv) -> list[tuple[tuple, str]]:
    """((quantity, statistic, comparison), explanation) of every z cell of ``cv.table`` that needs one, in order."""
    return [((r["quantity"], r["statistic"], r["comparison"]), text) for _, r in cv.table.iterrows()
            if (text := z_explanation(r)) is not None]


def _saturation_note(cv) -> str:
    if not cv.table["by_atol"].any():
        return ""
    tolerances = ", ".join(f"{var} ±{tol:.2g}" for var, tol in (cv.saturation or {}).items())
    return (f"(s): saturated at a bound (e.g. a probability of 1.0), where the MCSE misses rare excursions; "
            f"passes within its tolerance ({tolerances}; rule of three)")


def rich_table(outcome: PairOutcome) -> Table:
    """The comparison as a Rich table (estimates ± MCSE, exact values, z-scores), titled with the verdict.

    Laid out to fit an 80-column terminal for two results and an exact answer: quantity and statistic share
    a column, and z-score headers stack the two names compared.
    """
    from rich import box

    cv = outcome.crossval
    frame = comparison_frame(outcome)
    results = [n for n in cv.estimates if n != "exact"]
    zcols = [c for c in frame.columns if c.startswith("z ")]
    notes = dict(_z_notes(cv))
    table = Table(
        title=f"{outcome.name}: [{_VERDICT_STYLE[cv.verdict]}]{cv.verdict}[/] (|z| threshold {cv.threshold:.2f})",
        title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
        caption="\n".join(filter(None, ["z = difference / combined MCSE (a quantile's on the probability scale)",
                                        _saturation_note(cv)] + [f"{Z_MARK} {escape(n)}" for n in notes.values()])),
        caption_justify="left",
    )
    table.add_column("quantity", no_wrap=True)
    for name in results:
        table.add_column(f"{name}\n± MCSE", justify="right", no_wrap=True)
    if "exact" in frame.columns:
        table.add_column("exact", justify="right", no_wrap=True)
    names = dict(zip(zcols, cv.comparisons["comparison"]))  # "z gibbs-exact" -> "gibbs vs exact"
    for col in zcols:
        left, right = col[2:].split("-", 1)
        table.add_column(f"z\n{left}\n-{right}", justify="right", no_wrap=True)
    for _, row in frame.iterrows():
        cells = [escape(f"{row['quantity']} {row['statistic']}")]
        cells += [_fmt(row[n], row[f"{n} mcse"], digits=4) for n in results]
        if "exact" in frame.columns:
            cells.append(_fmt(row["exact"], digits=5) if pd.notna(row["exact"]) else "–")
        cells += [_z_cell(row[c], row["s" + c[1:]], row["ok"], cv.threshold, rich=True,
                          note=Z_MARK if (row["quantity"], row["statistic"], names[c]) in notes else "")
                  for c in zcols]
        table.add_row(*cells)
    return table


def _markdown_comparison(outcome: PairOutcome) -> str:
    frame = comparison_frame(outcome)
    results = [n for n in outcome.crossval.estimates if n != "exact"]
    shown = pd.DataFrame({"quantity": frame["quantity"], "stat": frame["statistic"]})
    for n in results:
        shown[f"{n} ± MCSE"] = [_fmt(v, m) for v, m in zip(frame[n], frame[f"{n} mcse"])]
    if "exact" in frame.columns:
        shown["exact"] = [_fmt(v) if pd.notna(v) else "–" for v in frame["exact"]]
    notes = _z_notes(outcome.crossval)
    number = {key: i for i, (key, _) in enumerate(notes, start=1)}
    zcols = [c for c in frame.columns if c.startswith("z ")]
    for c, comparison in zip(zcols, outcome.crossval.comparisons["comparison"]):
        shown[c] = [_z_cell(v, by_atol, ok, outcome.crossval.threshold,
                            note=f" [{number[q, s, comparison]}]" if (q, s, comparison) in number else "")
                    for v, by_atol, ok, q, s in zip(frame[c], frame["s" + c[1:]], frame["ok"], frame["quantity"],
                                                    frame["statistic"])]
    shown["detectable (sd)"] = [_detectable_cell(v) for v in frame["detectable_sd"]]
    shown["ok"] = ["yes" if ok else "**no**" for ok in frame["ok"]]
    text = markdown_table(shown, index=False)
    if notes:
        text += "\n\n" + "\n".join(f"[{i}] {note}." for i, (_, note) in enumerate(notes, start=1))
    if np.isinf(frame["detectable_sd"].astype(float)).any():
        text += ("\n\n\"undefined\" detectable shift: the quantity's posterior sd is 0 (its draws do not vary), "
                 "so a shift in posterior sds has no size.")
    return text


def _detectable_cell(value: float) -> str:
    """The smallest detectable shift in posterior sds as text: "undefined" where it is infinite (a posterior sd
    of 0), "–" where it was not computed (an MCSE ArviZ could not compute)."""
    return f"{value:.2g}" if np.isfinite(value) else "undefined" if np.isinf(value) else "–"


def _comparisons(cv) -> pd.DataFrame:
    """The per-comparison verdicts; the ``advisory`` column only when some comparison is advisory; ``max_abs_z``
    as text, a |z| that is infinite or at least :data:`Z_PRINTED` saying so (its reason is under the table of
    z-scores)."""
    frame = cv.comparisons.copy()
    frame["max_abs_z"] = [_max_z_text(z) for z in frame["max_abs_z"]]
    return frame if (frame["advisory"] != "").any() else frame.drop(columns="advisory")


def _max_z_text(z: float) -> str:
    """A largest |z| as text: "undefined (an MCSE of 0)", "> 999 (see the notes)", "–" when none, else 2 decimals."""
    if pd.isna(z):
        return "–"
    if np.isinf(z):
        return "undefined (combined MCSE 0; see the notes under the z-scores)"
    return f"{z:.2f}" if z < Z_PRINTED else "> 999 (see the notes under the z-scores)"


def _checks_frame(checks: pd.DataFrame) -> pd.DataFrame:
    shown = checks.copy()
    shown["max_difference"] = [f"{v:.2e}" for v in shown["max_difference"]]
    shown["tolerance"] = [f"{v:g}" for v in shown["tolerance"]]
    shown["ok"] = ["yes" if ok else "**no**" for ok in shown["ok"]]
    return shown


def rich_checks(outcome: PairOutcome) -> Table:
    """The deterministic identities as a Rich table, titled with whether all hold."""
    from rich import box

    checks = outcome.checks
    held = int(checks["ok"].sum())
    style = "bold green" if held == len(checks) else "bold red"
    table = Table(title=f"{outcome.name}: [{style}]{held}/{len(checks)} identities hold[/]", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("identity")
    table.add_column("max difference", justify="right", no_wrap=True)
    table.add_column("tolerance", justify="right", no_wrap=True)
    for r in checks.itertuples():
        diff = f"{r.max_difference:.2e}" + ("" if r.ok else " [red]✗[/]")
        table.add_row(escape(r.identity), diff, f"{r.tolerance:g} {r.kind}")
    return table


def run_diagnostics(outcome: PairOutcome) -> list[tuple[str, "Diagnostics", str]]:
    """Every sampler run the outcome holds, with its ArviZ diagnostics and its role in the verdict.

    Returns
    -------
    list of (label, Diagnostics, role)
        The cross-validation's results (role ``"verdict"``, or ``"advisory: <why>"`` for an advisory one),
        its confirmatory stage's results (label ``"<name> (confirmation)"``, role ``"confirmation"``), and the
        outcome's ``advisory_runs`` (role ``"advisory: <why>"``, diagnosed here by
        :func:`bayes_zoo.inference.diagnostics.diagnose`).
    """
    from bayes_zoo.inference.diagnostics import diagnose

    cv = outcome.crossval
    runs = []
    if cv is not None:
        advisory = dict((cv.settings or {}).get("advisory") or {})
        runs += [(name, d, f"advisory: {advisory[name]}" if name in advisory else "verdict")
                 for name, d in cv.diagnostics.items()]
        if cv.confirmation is not None:
            runs += [(f"{name} (confirmation)", d, "confirmation") for name, d in cv.confirmation.diagnostics.items()]
    for name, why in outcome.advisory_runs.items():
        runs.append((name, diagnose(outcome.results[name], name=name), f"advisory: {why}"))
    return runs


def _diagnostics_frame(outcome: PairOutcome) -> pd.DataFrame:
    parts = []
    for name, diag, role in run_diagnostics(outcome):
        part = diag.table.reset_index()
        part.insert(0, "result", name)
        part["divergences"] = "n/a" if diag.divergences is None else diag.divergences
        part["role"] = role
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _rhat_text(value: float) -> str:
    """An R-hat as report text: 4 decimals, and as many more as it takes for one above
    :data:`~bayes_zoo.inference.diagnostics.RHAT_MAX` to read so (1.0101 is never printed "1.01", the threshold)."""
    from bayes_zoo.inference.diagnostics import RHAT_MAX

    if not np.isfinite(value):
        return "–" if np.isnan(value) else str(value)
    return beyond(value, RHAT_MAX, decimals=4)[0] if value > RHAT_MAX else f"{value:.4f}"


def _diagnostics_markdown(outcome: PairOutcome) -> str:
    """The per-quantity diagnostics table: R-hat by :func:`_rhat_text`, the rest at 4 significant digits."""
    frame = _diagnostics_frame(outcome)
    frame["role"] = frame["role"].str.split(":").str[0]
    frame["r_hat"] = [_rhat_text(v) for v in frame["r_hat"]]
    # the R-hat text as written (tabulate would parse it back into a number and print 1.0101 as 1.01)
    return markdown_table(frame, index=False, floatfmt=".4g", disable_numparse=[frame.columns.get_loc("r_hat")])


def _runs_summary(outcome: PairOutcome) -> str:
    """One markdown row per sampler run: chains x draws, largest R-hat, smallest ESS, divergences, findings."""
    rows = []
    for name, diag, role in run_diagnostics(outcome):
        t = diag.table
        problems = list(diag.untrusted) + list(diag.failures) + list(diag.low_ess)
        rows.append({"run": name, "role": role, "chains x draws": f"{diag.chains} x {diag.draws}",
                     "max R-hat": _rhat_text(t["r_hat"].max()), "min ESS bulk": f"{t['ess_bulk'].min():.0f}",
                     "min ESS tail": f"{t['ess_tail'].min():.0f}",
                     "divergences": "n/a" if diag.divergences is None else str(diag.divergences),
                     "findings": "; ".join(problems) if problems else "none"})
    return markdown_table(pd.DataFrame(rows), index=False, disable_numparse=True)  # every cell is text already


def _stages_sentence(outcome: PairOutcome) -> str:
    """How "disagree" is reached for this outcome: two stages when the pair can rerun, else one; from the objects."""
    cv = outcome.crossval
    if outcome.rerun is None:
        return "One stage: no confirmatory run is possible for this pair."
    stated = (f"stated false-alarm rate {PROTOCOL_ALPHA:g}" if cv.alpha == STAGE_ALPHA
              else f"at most about {(2 * cv.alpha) ** 2:.2g} even at twice each stage's level")
    done = (f"here it ran ({len(cv.confirmation.table)} tests)" if cv.confirmation is not None
            else "here none was needed")
    given = [k for k in cv.diagnostics if k in outcome.results  # compared draws the run was given, not sampled
             and "sampling_time" not in outcome.results[k].posterior.attrs]
    independence = (f"The stages are independent for a correct sampler: {stated}." if not given else
                    f"The draws of {', '.join(given)} were given, not sampled, and are the same in both stages, so "
                    "the stages are not independent and the stated rate does not follow from each stage's.")
    return (f"A \"disagree\" of a comparison that sets the verdict stands only when a fresh run with "
            f"{CONFIRM_FACTOR} x the draws disagrees on that comparison again, on any quantity ({done}); advisory "
            f"comparisons are one stage.  {independence}")


def _power_frame(cv) -> pd.DataFrame:
    words = {"mean": "mean", "sd": "sd", "q05": "5% quantile", "q95": "95% quantile"}
    power = cv.power().reset_index()
    return pd.DataFrame({"statistic": [words[s] for s in power["statistic"]],
                         f"shift detected with probability {POWER:g} (posterior sd)": [f"{v:.3g}" for v in power["detectable_sd"]],
                         "at (the least precise quantity)": power["quantity"]})


#: The heading of the reasons that do not set the verdict (those of advisory comparisons and runs).
ADVISORY_HEADING = "Advisory findings (not part of the verdict)"
_ADVISORY = "(advisory) "


def _split_reasons(reasons) -> tuple[list[str], list[str]]:
    """``reasons`` as (those that set the verdict, the advisory ones without their "(advisory) " prefix)."""
    deciding = [r for r in reasons if not r.startswith(_ADVISORY)]
    advisory = [r[len(_ADVISORY):] for r in reasons if r.startswith(_ADVISORY)]
    return deciding, advisory


def write_outcome(outcome: PairOutcome, folder: Path) -> list[Path]:
    """Write the pair's report (``report.md``, and ``report.html`` from it: :func:`bayes_zoo.html_report.write_html`),
    CSVs, netCDF files and figures into ``folder`` (created if missing).

    It writes without asking: the CLI gives it :meth:`Output.staging`'s temporary folder.  Figures are closed.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cv = outcome.crossval
    written = []

    for name, idata in outcome.results.items():
        path = folder / f"{name}.nc"
        idata.to_netcdf(str(path))
        written.append(path)
    for name, idata in outcome.confirmation.items():
        path = folder / f"{name}.confirm.nc"
        idata.to_netcdf(str(path))
        written.append(path)
    if cv is not None:
        cv.table.to_csv(folder / "summary.csv", index=False)
        written.append(folder / "summary.csv")
    if cv is not None or outcome.advisory_runs:
        _diagnostics_frame(outcome).to_csv(folder / "diagnostics.csv", index=False)
        written.append(folder / "diagnostics.csv")
    if outcome.checks is not None:
        outcome.checks.to_csv(folder / "checks.csv", index=False)
        written.append(folder / "checks.csv")
    for stem, fig in outcome.figures.items():
        path = folder / f"{stem}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")  # legends sit outside the axes
        plt.close(fig)
        written.append(path)

    lines = [f"# {outcome.title}", "", f"**Verdict: {outcome.verdict}**", ""]
    deciding, advisory = _split_reasons(outcome.reasons)
    if deciding:
        lines += ["Reasons:", ""] + [f"- {r}" for r in deciding] + [""]
    if cv is not None:
        lines += [f"Power: {cv.power_summary()}.", ""]
    if advisory:
        lines += [f"{ADVISORY_HEADING}:", ""] + [f"- {r}" for r in advisory] + [""]
    lines += ["## Setup", ""] + [f"- {f}" for f in outcome.facts] + [f"- {blas_status()}", ""]
    if outcome.checks is not None:
        lines += ["## Deterministic identities", "",
                  "Two computations of the same number (no Monte Carlo error): each must agree to its tolerance.",
                  "", markdown_table(_checks_frame(outcome.checks), index=False), ""]
    if cv is not None:
        lines += [
            "## Comparisons",
            "",
            f"Two-sided z-tests, Bonferroni-corrected over {len(cv.table)} tests at family-wise level "
            f"{cv.alpha:g}: |z| threshold {cv.threshold:.3f}.  MCSE from `arviz.mcse`: of the mean and the sd; a "
            f"quantile's z is taken on the probability scale (the mid-ECDF at the reference point, a mean, with "
            f"the MCSE of a mean; `bayes_zoo.inference.crossval`).  With fewer than {cv.settings['ess_min']:g} "
            f"effective draws a finding is \"inconclusive\" unless some |z| exceeds {GROSS_FACTOR:g} x the "
            f"threshold, an R-hat exceeds {RHAT_GROSS:g} or a sampler diverged.  " + _stages_sentence(outcome),
            "",
            f"The shift each statistic's tests would detect with probability {POWER:g}, in posterior sds (the worst "
            f"case over the quantities):",
            "",
            markdown_table(_power_frame(cv), index=False),
            "",
            markdown_table(_comparisons(cv), index=False, floatfmt=".2f"),
            "",
            _markdown_comparison(outcome),
            "",
        ]
        if _saturation_note(cv):
            lines += [_saturation_note(cv) + ".", ""]
        if cv.confirmation is not None:
            lines += ["### Confirmatory stage", "", markdown_table(_comparisons(cv.confirmation), index=False, floatfmt=".2f"),
                      ""]
        if cv.notes:
            lines += [f"- {n}" for n in cv.notes] + [""]
    if cv is not None or outcome.advisory_runs:
        lines += ["## Sampler runs and their diagnostics (ArviZ)", "",
                  "Every run this report uses; per-quantity R-hat and ESS are in `diagnostics.csv`.", "",
                  _runs_summary(outcome), "",
                  _diagnostics_markdown(outcome), ""]
    for heading, body in outcome.sections.items():
        lines += [f"## {heading}", "", body, ""]
    if outcome.notes:
        lines += ["## Notes", ""] + outcome.notes + [""]
    if outcome.figures:
        lines += ["## Figures", ""] + [f"![{stem}]({stem}.png)" for stem in outcome.figures] + [""]
    (folder / "report.md").write_text("\n".join(lines), encoding="utf-8")
    written.append(folder / "report.md")
    written.append(write_html(folder))
    return written


def write_index(outcomes: list[PairOutcome], out: Path, *, path: Path | None = None) -> Path:
    """Write ``out/report.md`` (or ``path``, e.g. :meth:`Output.commit_index`'s temporary file): one row per
    pair with its verdict, linking each pair's report."""
    rows = [
        {
            "pair": f"[{o.name}]({o.name}/report.md)",
            "verdict": o.verdict,
            "comparisons": "; ".join(_summary_lines(o)),
            **dict(zip(("max abs z", "threshold"), _largest_z_and_threshold(o.crossval))),
        }
        for o in outcomes
    ]
    text = "\n".join(["# bayes-zoo: all pairs", "", markdown_table(pd.DataFrame(rows), index=False), "",
                      f"Environment: {blas_status()}.", ""])
    path = Path(out) / "report.md" if path is None else Path(path)
    path.write_text(text, encoding="utf-8")
    return path


def _largest_z_and_threshold(cv) -> tuple[str, str]:
    """The largest |z| and the threshold as text; beyond it, with the decimals it takes to read so."""
    if cv is None:
        return "–", "–"
    z = float(cv.comparisons["max_abs_z"].max())
    if np.isinf(z) or z >= Z_PRINTED:  # the pair's report says why
        return ("undefined (combined MCSE 0)" if np.isinf(z) else "> 999 (MCSE near 0)"), f"{cv.threshold:.2f}"
    return beyond(z, cv.threshold, decimals=2) if z > cv.threshold else (f"{z:.2f}", f"{cv.threshold:.2f}")


def _summary_lines(outcome: PairOutcome) -> list[str]:
    """One line per comparison (``"gibbs vs exact: agree"``, advisory marked) and one for the identities."""
    lines = []
    if outcome.checks is not None:
        held = int(outcome.checks["ok"].sum())
        lines.append(f"deterministic identities: {held}/{len(outcome.checks)} hold")
    if outcome.crossval is not None:
        lines += [f"{r.comparison}: {r.verdict}" + (" (advisory)" if r.advisory else "")
                  for r in outcome.crossval.comparisons.itertuples()]
    return lines
