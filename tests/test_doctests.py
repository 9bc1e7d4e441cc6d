"""Every docstring example in the package runs and shows what it says.

Examples that need files or trained models are marked ``# doctest: +SKIP`` where they are
written; everything else is executed here, so an example cannot drift from the code.
"""

import doctest
import importlib
import pkgutil

import pytest

import kerasemo

# Modules whose import needs something the test environment may not hold; each with the reason.
_NOT_IMPORTABLE_HERE = {}


def _modules():
    names = [kerasemo.__name__]
    for info in pkgutil.walk_packages(kerasemo.__path__, prefix="kerasemo."):
        if info.name.endswith("__main__"):
            continue
        names.append(info.name)
    return sorted(names)


MODULES = _modules()


def test_the_walk_finds_the_package():
    assert "kerasemo.checks" in MODULES and "kerasemo.config" in MODULES
    assert len(MODULES) > 50


@pytest.mark.parametrize("name", [m for m in MODULES if m not in _NOT_IMPORTABLE_HERE])
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    report = []
    for test in finder.find(module, name):
        if test.examples:
            runner.run(test, out=report.append)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, f"{failed} of {attempted} examples failed in {name}:\n" + "".join(report)
