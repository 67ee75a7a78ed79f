// The decorator's cache-hit check, native: is this call the checked call's signature? Built once per torch
// version by shapecheck/native.py (torch.utils.cpp_extension); where it cannot be built, shapecheck/guards.py
// asks the same question with a generated Python expression around dynamo's TensorGuards. Tensors are
// compared as TensorGuards compares them: the exact Python type, dispatch keys, dtype, device, requires_grad,
// sizes and strides. Unlike TensorGuards this allocates nothing and reads no thread-local dispatch state per
// call (the keys are the tensor's own: a check that matters for a traced graph, not for a contract).
//
// make(*tensors) -> check(*tensors) -> bool: an output's tensors.
// call(args, kwargs, tensors) -> matches(args, kwargs) -> bool: a whole call, as guards._matcher's expression
// asks it: the counts of positional and keyword arguments and the keywords' names; each scalar the checked
// object or the same exact type and an equal value; a tensor the checked call passed twice passed twice
// again; every other tensor's metadata. `tensors` are the positions (positional, then keyword) of tensors.
// A tensor make() or call() cannot describe (a nested tensor's sizes) raises TypeError there; a check
// answers False for anything unlike the checked call and never raises.
#include <torch/csrc/autograd/python_variable.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

namespace {

struct Expected {
  PyTypeObject* type;
  uint64_t keys;
  c10::ScalarType dtype;
  c10::Device device;
  bool requires_grad;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
};
using Signature = std::vector<Expected>;
constexpr const char* kCapsule = "shapecheck.native_guard";

void destroy(PyObject* capsule) { delete static_cast<Signature*>(PyCapsule_GetPointer(capsule, kCapsule)); }

// The builtin function `def` with `owned` as its self, freed with it by `destroy`.
template <typename T>
PyObject* bound(std::unique_ptr<T> owned, const char* name, PyCapsule_Destructor destroy, PyMethodDef* def) {
  PyObject* capsule = PyCapsule_New(owned.get(), name, destroy);
  if (capsule == nullptr) return nullptr;
  owned.release();
  PyObject* fn = PyCFunction_New(def, capsule);
  Py_DECREF(capsule);
  return fn;
}

Expected describe(PyObject* obj) {  // obj: a torch.Tensor or a subclass (THPVariable_Check)
  const at::Tensor& t = THPVariable_Unpack(obj);
  return {Py_TYPE(obj), t.key_set().raw_repr(), t.scalar_type(), t.device(), t.requires_grad(), t.sizes().vec(),
          t.strides().vec()};
}

bool same(const Expected& e, PyObject* obj) {
  if (Py_TYPE(obj) != e.type) return false;  // the type make() saw: a torch.Tensor or Parameter, so Unpack is safe
  const c10::TensorImpl* t = THPVariable_Unpack(obj).unsafeGetTensorImpl();
  if (t->key_set().raw_repr() != e.keys || t->dtype().toScalarType() != e.dtype || t->device() != e.device ||
      t->requires_grad() != e.requires_grad)
    return false;
  // same dispatch keys as a tensor whose sizes and strides make() read: plain sizes and strides here too
  const auto sizes = t->sizes();
  const auto strides = t->strides();
  return sizes.size() == e.sizes.size() && std::equal(sizes.begin(), sizes.end(), e.sizes.begin()) &&
         std::equal(strides.begin(), strides.end(), e.strides.begin());
}

PyObject* check(PyObject* self, PyObject* const* args, Py_ssize_t n) {
  const Signature& expected = *static_cast<Signature*>(PyCapsule_GetPointer(self, kCapsule));
  if (static_cast<size_t>(n) != expected.size()) Py_RETURN_FALSE;
  try {
    for (Py_ssize_t i = 0; i < n; ++i) {
      if (!same(expected[i], args[i])) Py_RETURN_FALSE;
    }
  } catch (...) {  // a tensor whose sizes or strides cannot be read plainly is not the checked one
    Py_RETURN_FALSE;
  }
  Py_RETURN_TRUE;
}

PyMethodDef check_def = {"check", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(check)),
                         METH_FASTCALL, "check(*tensors) -> whether they have the made tensors' metadata"};

PyObject* make(PyObject*, PyObject* const* args, Py_ssize_t n) {
  auto expected = std::make_unique<Signature>();
  try {
    for (Py_ssize_t i = 0; i < n; ++i) {
      if (!THPVariable_Check(args[i])) {
        PyErr_Format(PyExc_TypeError, "make: argument %zd is not a tensor", i);
        return nullptr;
      }
      expected->push_back(describe(args[i]));
    }
  } catch (const std::exception& exc) {
    PyErr_Format(PyExc_TypeError, "make: %s", exc.what());
    return nullptr;
  }
  return bound(std::move(expected), kCapsule, destroy, &check_def);
}

// One argument of the checked call: a tensor's metadata, a tensor passed before (its first slot), or a scalar.
struct Slot {
  enum class Kind { kTensor, kSame, kScalar } kind;
  std::optional<Expected> tensor;
  Py_ssize_t first;  // kSame: the slot whose object this one must be
  PyObject* value;   // kScalar: the checked object (owned)
};

struct Call {
  Py_ssize_t positional;
  std::vector<PyObject*> keywords;  // owned names, in the checked call's order
  std::vector<Slot> slots;          // positional, then keyword
  ~Call() {
    for (PyObject* name : keywords) Py_DECREF(name);
    for (const Slot& slot : slots) Py_XDECREF(slot.value);
  }
};
constexpr const char* kCall = "shapecheck.native_guard.call";

void destroy_call(PyObject* capsule) { delete static_cast<Call*>(PyCapsule_GetPointer(capsule, kCall)); }

// The call's i-th value (borrowed), or nullptr when a keyword is missing.
PyObject* value_at(const Call& call, PyObject* args, PyObject* kwargs, Py_ssize_t i) {
  if (i < call.positional) return PyTuple_GET_ITEM(args, i);
  PyObject* value = PyDict_GetItemWithError(kwargs, call.keywords[i - call.positional]);
  if (value == nullptr) PyErr_Clear();
  return value;
}

bool matches_call(const Call& call, PyObject* args, PyObject* kwargs) {
  if (!PyTuple_Check(args) || !PyDict_Check(kwargs) || PyTuple_GET_SIZE(args) != call.positional ||
      PyDict_GET_SIZE(kwargs) != static_cast<Py_ssize_t>(call.keywords.size()))
    return false;
  for (Py_ssize_t i = 0; i < static_cast<Py_ssize_t>(call.slots.size()); ++i) {
    const Slot& slot = call.slots[i];
    PyObject* value = value_at(call, args, kwargs, i);
    if (value == nullptr) return false;
    switch (slot.kind) {
      case Slot::Kind::kTensor:
        if (!same(*slot.tensor, value)) return false;
        break;
      case Slot::Kind::kSame:
        if (value != value_at(call, args, kwargs, slot.first)) return false;
        break;
      case Slot::Kind::kScalar:
        if (value != slot.value) {  // else the same exact type and an equal value (`True == 1`, not a bool)
          if (Py_TYPE(value) != Py_TYPE(slot.value)) return false;
          int equal = PyObject_RichCompareBool(value, slot.value, Py_EQ);
          if (equal != 1) {
            if (equal < 0) PyErr_Clear();
            return false;
          }
        }
        break;
    }
  }
  return true;
}

PyObject* check_call(PyObject* self, PyObject* const* args, Py_ssize_t n) {
  if (n != 2) Py_RETURN_FALSE;
  const Call& call = *static_cast<Call*>(PyCapsule_GetPointer(self, kCall));
  try {
    if (matches_call(call, args[0], args[1])) Py_RETURN_TRUE;
  } catch (...) {  // a tensor whose sizes or strides cannot be read plainly is not the checked one
  }
  Py_RETURN_FALSE;
}

PyMethodDef check_call_def = {"matches", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(check_call)),
                              METH_FASTCALL, "matches(args, kwargs) -> whether the call has the made call's signature"};

PyObject* make_call(PyObject*, PyObject* const* args, Py_ssize_t n) {
  if (n != 3 || !PyTuple_Check(args[0]) || !PyDict_Check(args[1]) || !PyTuple_Check(args[2])) {
    PyErr_SetString(PyExc_TypeError, "call(args: tuple, kwargs: dict, tensors: tuple[int, ...])");
    return nullptr;
  }
  auto call = std::make_unique<Call>();
  call->positional = PyTuple_GET_SIZE(args[0]);
  PyObject *name, *value;
  Py_ssize_t pos = 0;
  std::vector<PyObject*> values;
  for (Py_ssize_t i = 0; i < call->positional; ++i) values.push_back(PyTuple_GET_ITEM(args[0], i));
  while (PyDict_Next(args[1], &pos, &name, &value)) {
    Py_INCREF(name);
    call->keywords.push_back(name);
    values.push_back(value);
  }
  std::vector<bool> tensor(values.size(), false);
  for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(args[2]); ++k) {
    Py_ssize_t i = PyLong_AsSsize_t(PyTuple_GET_ITEM(args[2], k));
    if (i < 0 || i >= static_cast<Py_ssize_t>(values.size()) || !THPVariable_Check(values[i])) {
      if (!PyErr_Occurred()) PyErr_Format(PyExc_TypeError, "call: position %zd is not a tensor", i);
      return nullptr;
    }
    tensor[i] = true;
  }
  try {
    for (size_t i = 0; i < values.size(); ++i) {
      Slot slot{Slot::Kind::kScalar, {}, 0, nullptr};
      if (tensor[i]) {
        slot.kind = Slot::Kind::kTensor;
        for (size_t j = 0; j < i; ++j) {
          if (tensor[j] && values[j] == values[i]) {
            slot.kind = Slot::Kind::kSame;
            slot.first = static_cast<Py_ssize_t>(j);
            break;
          }
        }
        if (slot.kind == Slot::Kind::kTensor) slot.tensor = describe(values[i]);
      } else {
        Py_INCREF(values[i]);
        slot.value = values[i];
      }
      call->slots.push_back(std::move(slot));
    }
  } catch (const std::exception& exc) {
    PyErr_Format(PyExc_TypeError, "call: %s", exc.what());
    return nullptr;
  }
  return bound(std::move(call), kCall, destroy_call, &check_call_def);
}

PyMethodDef methods[] = {
    {"make", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(make)), METH_FASTCALL,
     "make(*tensors) -> check(*tensors) -> bool"},
    {"call", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(make_call)), METH_FASTCALL,
     "call(args, kwargs, tensors) -> matches(args, kwargs) -> bool"},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "shapecheck native guard", nullptr, -1, methods};

}  // namespace

#define SHAPECHECK_INIT_(name) PyInit_##name
#define SHAPECHECK_INIT(name) SHAPECHECK_INIT_(name)
PyMODINIT_FUNC SHAPECHECK_INIT(TORCH_EXTENSION_NAME)(void) { return PyModule_Create(&module_def); }
