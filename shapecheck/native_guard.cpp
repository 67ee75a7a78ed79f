// The decorator's cache-hit check, native: do these tensors have the checked call's tensors' metadata?
// Built once per torch version by shapecheck/native.py (torch.utils.cpp_extension); where it cannot be built,
// dynamo's TensorGuards answers the same question. Compared, per tensor, as TensorGuards compares: the exact
// Python type, dispatch keys, dtype, device, requires_grad, sizes and strides. Unlike TensorGuards it allocates
// nothing and reads no thread-local dispatch state per call (the keys are the tensor's own: a check that
// matters for a traced graph, not for a contract), so a decode step's 9 tensors cost ~0.1 µs, not ~0.8.
//
// make(*tensors) -> check; check(*tensors) -> bool. A tensor make() cannot describe (a nested tensor's
// sizes) raises TypeError there, and the caller falls back; check() answers False for anything unlike the
// checked tensors, never raises.
#include <torch/csrc/autograd/python_variable.h>

#include <algorithm>
#include <memory>
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
      const at::Tensor& t = THPVariable_Unpack(args[i]);
      expected->push_back({Py_TYPE(args[i]), t.key_set().raw_repr(), t.scalar_type(), t.device(), t.requires_grad(),
                           t.sizes().vec(), t.strides().vec()});
    }
  } catch (const std::exception& exc) {
    PyErr_Format(PyExc_TypeError, "make: %s", exc.what());
    return nullptr;
  }
  PyObject* capsule = PyCapsule_New(expected.get(), kCapsule, destroy);
  if (capsule == nullptr) return nullptr;
  expected.release();
  PyObject* fn = PyCFunction_New(&check_def, capsule);
  Py_DECREF(capsule);
  return fn;
}

PyMethodDef methods[] = {
    {"make", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(make)), METH_FASTCALL,
     "make(*tensors) -> check(*tensors) -> bool"},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "shapecheck native guard", nullptr, -1, methods};

}  // namespace

#define SHAPECHECK_INIT_(name) PyInit_##name
#define SHAPECHECK_INIT(name) SHAPECHECK_INIT_(name)
PyMODINIT_FUNC SHAPECHECK_INIT(TORCH_EXTENSION_NAME)(void) { return PyModule_Create(&module_def); }
