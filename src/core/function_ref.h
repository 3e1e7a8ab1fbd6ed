// A non-owning reference to a callable, for callbacks on hot paths: passing
// one allocates nothing (std::function may), and the call is one indirect
// jump. The callable must outlive the reference.
#pragma once

#include <type_traits>

namespace quasr {

template <typename Signature>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  FunctionRef() = default;
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(const F& f)  // NOLINT: implicit from any callable with this signature
      : object_(&f), call_([](const void* o, Args... args) -> R {
          return (*static_cast<const F*>(o))(args...);
        }) {}
  explicit operator bool() const { return call_ != nullptr; }
  R operator()(Args... args) const { return call_(object_, args...); }

 private:
  const void* object_ = nullptr;
  R (*call_)(const void*, Args...) = nullptr;
};

}  // namespace quasr
