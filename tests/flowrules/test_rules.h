#pragma once

// A catalogue of valid rules that together use every match field, item and action of the
// flow-rule language; the round-trip and golden tests run over all of them.

#include <ostream>
#include <string>
#include <vector>

#include "flowrules/rule.h"

namespace nicswitch::flowrules::testing {

struct NamedRule {
  std::string name;  // also the golden file's stem: tests/testdata/flowrules/<name>.testpmd
  uint16_t port_id;  // the port testpmd creates the rule on
  Rule rule;
};

MacAddress Mac(const char* text);
Ipv4Prefix V4(const char* address, uint8_t length = 32);
Ipv6Prefix V6(const char* address, uint8_t length = 128);

// A valid transfer rule: match on represented port 1, action represented_port 0.
Rule MinimalRule();

std::vector<NamedRule> RuleCatalogue();

// Minimal rules that each add one match field or one action (boundary values included).
std::vector<Rule> SingleFieldRules();

// An invalid rule and the text the error message must contain (the field and the value).
struct InvalidRule {
  std::string name;
  Rule rule;
  std::string message;
};
std::vector<InvalidRule> InvalidRules();
inline void PrintTo(const InvalidRule& r, std::ostream* os) { *os << r.name; }

}  // namespace nicswitch::flowrules::testing
