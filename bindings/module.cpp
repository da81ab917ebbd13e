// PYBIND11_MODULE(_mirrorsim): the compiled half of `import mirrorsim`.
// Exceptions: ScenarioError → mirrorsim.ScenarioError (a ValueError with
// `where`), a failed child → mirrorsim.RunFailed (a RuntimeError).
#include <pybind11/pybind11.h>

#include "bindings/bindings.hpp"
#include "config/scenario.hpp"
#include "sim/fork.hpp"
#include "sim/simulation.hpp"

namespace mirrorsim::bindings {

namespace {
PyObject* g_scenario_error = nullptr;
PyObject* g_run_failed = nullptr;
}  // namespace

PyObject* scenario_error_type() { return g_scenario_error; }
PyObject* run_failed_type() { return g_run_failed; }

}  // namespace mirrorsim::bindings

PYBIND11_MODULE(_mirrorsim, m) {
  namespace py = pybind11;
  using namespace mirrorsim;
  using namespace mirrorsim::bindings;

  m.doc() =
      "The compiled core of mirrorsim (pybind11): scenarios, runs in forked children, the sweep engine, the "
      "exhaustive explorer and validation against this machine. Use the `mirrorsim` package, which wraps it.";
  m.attr("__version__") = MIRRORSIM_VERSION;

  static py::exception<ScenarioError> scenario_error(m, "ScenarioError", PyExc_ValueError);
  scenario_error.doc() =
      "A scenario, a dotted key or a value the loader refuses. A ValueError; `where` is file:line:col for "
      "files, or the override (key = value) that was refused.";
  static py::exception<ChildFailed> run_failed(m, "RunFailed", PyExc_RuntimeError);
  run_failed.doc() =
      "A run (or the explorer, or a validation) failed in its forked child: the child's error message, or the "
      "signal that killed it. A RuntimeError.";
  g_scenario_error = scenario_error.ptr();
  g_run_failed = run_failed.ptr();

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ScenarioError& e) {
      py::object error = py::reinterpret_borrow<py::object>(scenario_error_type())(e.what());
      error.attr("where") = e.where();
      PyErr_SetObject(scenario_error_type(), error.ptr());
    } catch (const ChildFailed& e) {
      PyErr_SetString(run_failed_type(), e.what());
    }
  });

  m.def("simgrid_version", &simgrid_version, "The SimGrid version the simulator runs on, e.g. \"3.32\".");

  bind_scenario(m);
  bind_result(m);
  bind_run(m);
  bind_check(m);
  bind_validate(m);
}
