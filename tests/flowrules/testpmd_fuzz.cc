// Fuzzes ParseTestpmd with arbitrary text (seeded with the golden files). Whatever parses must
// render back to text that parses to the same rule, and compile and parse back from rte_flow.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "flowrules/rte_flow.h"
#include "flowrules/testpmd.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nicswitch::flowrules;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto parsed = ParseTestpmd(text);
  if (!parsed.ok()) return 0;
  auto again = ParseTestpmd(ToTestpmd(*parsed));
  Check(again.ok() && *again == *parsed, "ToTestpmd then ParseTestpmd gives the rule back");
  auto compiled = CompiledRule::Compile(parsed->rule);
  Check(compiled.ok(), "a parsed rule compiles");
  auto rule = ParseRteFlow(*compiled->attr(), compiled->pattern(), compiled->actions());
  Check(rule.ok() && *rule == parsed->rule, "Compile then ParseRteFlow gives the rule back");
  return 0;
}
