// The compiled half of `import mirrorsim`: one bind_* function per concern,
// each adding its classes and functions to the `_mirrorsim` extension. The
// pure-Python package (mirrorsim/) wraps them in the public API.
#pragma once

#include <pybind11/pybind11.h>

namespace mirrorsim::bindings {

namespace py = pybind11;

void bind_scenario(py::module_& m);  // Scenario: load, parse, dotted get/set
void bind_result(py::module_& m);    // RunResult: metrics, samples, time series, JSON
void bind_run(py::module_& m);       // run (one forked child) and sweep (the sweep engine)
void bind_check(py::module_& m);     // the exhaustive explorer, in a forked child
void bind_validate(py::module_& m);  // the simulator against this machine, in a forked child

// The Python exception type of ScenarioError (a ValueError subclass with
// a `where` attribute) and of a failed child (a RuntimeError subclass).
PyObject* scenario_error_type();
PyObject* run_failed_type();

}  // namespace mirrorsim::bindings
