// A small JSON Schema (draft 2020-12) checker for the keyword subset that
// bench/schema/bench-result.schema.json uses, so tests can validate bench
// output without a schema library: type, const, enum, minimum, required,
// properties, additionalProperties (bool or schema), items (bool or schema),
// prefixItems, minItems, maxItems and local "$ref": "#/$defs/NAME".
// Other keywords are ignored (annotations such as description pass).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace quasr {

// Returns one line per violation, "<json pointer>: problem"; empty when valid.
std::vector<std::string> check_json_schema(const nlohmann::json& schema,
                                           const nlohmann::json& document);

}  // namespace quasr
