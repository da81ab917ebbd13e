// validate(): the simulator against this machine (real/validate.hpp) —
// calibrate, run the scenario as written on real processes and in the
// simulator, compare the response-time distributions — in a forked child.
#include <pybind11/stl.h>

#include "bindings/bindings.hpp"
#include "bindings/forked_call.hpp"

#if MIRRORSIM_BIND_VALIDATE
#include "real/validate.hpp"
#include "report/serialize.hpp"
#endif

namespace mirrorsim::bindings {

void bind_validate(py::module_& m) {
#if MIRRORSIM_BIND_VALIDATE
  using namespace pybind11::literals;
  m.attr("HAVE_VALIDATE") = true;
  m.def(
      "validate",
      [](const Scenario& s, int calibration_ops) {
        if (calibration_ops < 10) throw py::value_error("validate: calibration_ops >= 10");
        real::ValidateOptions o;
        o.calibration_ops = calibration_ops;
        o.real.progress = false;
        // What the real driver cannot run is bad input: refused before forking.
        real::check_validation_support(s, o);
        auto bytes = [](const RunResult& r) {
          const std::vector<uint8_t> b = serialize(r);
          return std::string(b.begin(), b.end());
        };
        const auto parts = call_in_child(
            [&] {
              const real::Validation v = real::validate(s, o);
              return std::vector<std::string>{json_text(real::to_json(v)) + "\n", real::validation_text(v),
                                              bytes(v.real.result), bytes(v.sim), v.scenario.resolved_toml,
                                              v.scenario.source, v.real.verification.ok() ? "1" : "0"};
            },
            "the validation");
        const auto result = [](const std::string& b) { return deserialize(std::vector<uint8_t>(b.begin(), b.end())); };
        py::dict d;
        d["json"] = parts.at(0);
        d["text"] = parts.at(1);
        d["real"] = result(parts.at(2));
        d["sim"] = result(parts.at(3));
        d["scenario_toml"] = parts.at(4);
        d["scenario_source"] = parts.at(5);
        d["verified"] = parts.at(6) == "1";
        return d;
      },
      "scenario"_a, "calibration_ops"_a,
      "`mirrorsim validate` in a forked child: the scenario as written, calibrated on this machine, run on real "
      "processes and in the simulator. Returns {json: the text `mirrorsim validate --out` writes, text: what it "
      "prints, real: RunResult, sim: RunResult, scenario_toml, scenario_source: what both ran, verified: the real "
      "run's verification passed}.");
#else
  m.attr("HAVE_VALIDATE") = false;
#endif
}

}  // namespace mirrorsim::bindings
