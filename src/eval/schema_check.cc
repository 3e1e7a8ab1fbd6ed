#include "eval/schema_check.h"

#include <algorithm>

namespace quasr {
namespace {

using nlohmann::json;

bool has_type(const json& value, const std::string& type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "integer") return value.is_number_integer();
  if (type == "number") return value.is_number();
  if (type == "boolean") return value.is_boolean();
  if (type == "null") return value.is_null();
  return false;
}

class Checker {
 public:
  explicit Checker(const json& root) : root_(root) {}

  void check(const json& schema, const json& value, const std::string& at) {
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) fail(at, "no value allowed here");
      return;
    }
    if (auto ref = schema.find("$ref"); ref != schema.end()) {
      const std::string target = ref->get<std::string>();
      const std::string prefix = "#/$defs/";
      if (target.rfind(prefix, 0) != 0 || !root_["$defs"].contains(target.substr(prefix.size()))) {
        fail(at, "unsupported or unknown $ref " + target);
        return;
      }
      check(root_["$defs"][target.substr(prefix.size())], value, at);
    }
    if (!check_scalar_keywords(schema, value, at)) return;
    if (value.is_object()) check_object(schema, value, at);
    if (value.is_array()) check_array(schema, value, at);
  }

  std::vector<std::string> errors;

 private:
  void fail(const std::string& at, const std::string& problem) {
    errors.push_back((at.empty() ? "/" : at) + ": " + problem);
  }

  // type/const/enum/minimum; false when the type is wrong (no deeper checks).
  bool check_scalar_keywords(const json& schema, const json& value, const std::string& at) {
    if (auto type = schema.find("type"); type != schema.end()) {
      const std::vector<std::string> types =
          type->is_array() ? type->get<std::vector<std::string>>()
                           : std::vector<std::string>{type->get<std::string>()};
      if (std::none_of(types.begin(), types.end(),
                       [&](const std::string& t) { return has_type(value, t); })) {
        fail(at, "expected type " + type->dump() + ", got " + value.type_name());
        return false;
      }
    }
    if (auto c = schema.find("const"); c != schema.end() && *c != value) {
      fail(at, "expected " + c->dump() + ", got " + value.dump());
    }
    if (auto e = schema.find("enum");
        e != schema.end() && std::find(e->begin(), e->end(), value) == e->end()) {
      fail(at, "value " + value.dump() + " not in " + e->dump());
    }
    if (auto m = schema.find("minimum");
        m != schema.end() && value.is_number() && value.get<double>() < m->get<double>()) {
      fail(at, "value " + value.dump() + " below minimum " + m->dump());
    }
    return true;
  }

  void check_object(const json& schema, const json& value, const std::string& at) {
    if (auto required = schema.find("required"); required != schema.end()) {
      for (const json& key : *required) {
        if (!value.contains(key.get<std::string>())) fail(at, "missing key " + key.dump());
      }
    }
    const json properties = schema.value("properties", json::object());
    for (const auto& [key, item] : value.items()) {
      if (properties.contains(key)) {
        check(properties[key], item, at + "/" + key);
      } else if (auto extra = schema.find("additionalProperties"); extra != schema.end()) {
        if (extra->is_boolean() && !extra->get<bool>()) {
          fail(at, "unexpected key \"" + key + "\"");
        } else if (extra->is_object()) {
          check(*extra, item, at + "/" + key);
        }
      }
    }
  }

  void check_array(const json& schema, const json& value, const std::string& at) {
    if (auto n = schema.find("minItems"); n != schema.end() && value.size() < n->get<size_t>()) {
      fail(at, "fewer than " + n->dump() + " items");
    }
    if (auto n = schema.find("maxItems"); n != schema.end() && value.size() > n->get<size_t>()) {
      fail(at, "more than " + n->dump() + " items");
    }
    size_t first_free = 0;
    if (auto prefix = schema.find("prefixItems"); prefix != schema.end()) {
      for (size_t k = 0; k < prefix->size() && k < value.size(); ++k) {
        check((*prefix)[k], value[k], at + "/" + std::to_string(k));
      }
      first_free = prefix->size();
    }
    if (auto items = schema.find("items"); items != schema.end()) {
      for (size_t k = first_free; k < value.size(); ++k) {
        check(*items, value[k], at + "/" + std::to_string(k));
      }
    }
  }

  const json& root_;
};

}  // namespace

std::vector<std::string> check_json_schema(const nlohmann::json& schema,
                                           const nlohmann::json& document) {
  Checker checker(schema);
  checker.check(schema, document, "");
  return checker.errors;
}

}  // namespace quasr
