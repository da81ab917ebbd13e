// What the loader's tests share: a one-volume scenario, the message of a
// refusal, and a scratch directory for files.
#pragma once

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <unistd.h>

#include "config/scenario.hpp"

namespace config_test {

inline const std::string kVolume = "[[volume]]\nname = \"db\"\ntracks = 100\n";

// The message of the ScenarioError `action` throws ("" and a failed check if
// it throws nothing or something else).
inline std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const mirrorsim::ScenarioError& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("not a ScenarioError: " << e.what());
  }
  FAIL("no error");
  return "";
}

inline std::string parse_error(const std::string& text) {
  return error_of([&] { mirrorsim::parse_scenario(text, "test.toml"); });
}

// A scratch directory for files, removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mirrorsim-config-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
};

}  // namespace config_test
