// ptrace primitives for the ptrace platform (SECCOMP_RET_TRACE + PTRACE_O_TRACESECCOMP). The
// tracer is a *thread*: every request must come from the thread that seized the task, i.e. the
// JS thread that called ptraceSeize. Stops are waited for with waitPid(pid, cb, {traced: true}),
// on another thread of the same process (the kernel allows any thread of the tracer's group).
#include <elf.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>

#include <cstddef>

#include "common.h"

namespace tsor {

namespace {

// The registers as PTRACE_GETREGSET(NT_PRSTATUS) gives them: struct user_regs_struct.
#if defined(__x86_64__)
#define TSOR_REGS(X)                                                                          \
  X(r15) X(r14) X(r13) X(r12) X(rbp) X(rbx) X(r11) X(r10) X(r9) X(r8) X(rax) X(rcx) X(rdx)   \
  X(rsi) X(rdi) X(orig_rax) X(rip) X(cs) X(eflags) X(rsp) X(ss) X(fs_base) X(gs_base) X(ds)   \
  X(es) X(fs) X(gs)
#define TSOR_REG_NAME(r) #r,
const char* const kRegNames[] = {TSOR_REGS(TSOR_REG_NAME)};
// The names are in struct order, one 8-byte word each.
#define TSOR_REG_CHECK(r) +1
static_assert(sizeof(user_regs_struct) == 8 * (0 TSOR_REGS(TSOR_REG_CHECK)), "x86_64 regs");
static_assert(offsetof(user_regs_struct, orig_rax) == 8 * 15, "x86_64 regs order");
static_assert(offsetof(user_regs_struct, gs) == 8 * 26, "x86_64 regs order");
#else
const char* const kRegNames[] = {};
#endif
constexpr size_t kRegWords = sizeof(user_regs_struct) / 8;

void Request(Napi::Env env, const char* name, __ptrace_request req, int pid, void* addr, void* data) {
  if (ptrace(req, pid, addr, data) != 0) ThrowErrno(env, name, errno);
}

// ptraceSeize(pid, options): attach without stopping the task (PTRACE_O_* options).
void PtraceSeize(const Napi::CallbackInfo& info) {
  int pid = ArgPid(info, 0, "ptraceSeize");
  int64_t options = ArgInt(info, 1, "ptraceSeize", "options", 0, UINT32_MAX);
  Request(info.Env(), "ptrace(PTRACE_SEIZE)", PTRACE_SEIZE, pid, nullptr,
          reinterpret_cast<void*>(static_cast<uintptr_t>(options)));
}

// ptraceInterrupt(pid): stop a seized task (it reports a PTRACE_EVENT_STOP).
void PtraceInterrupt(const Napi::CallbackInfo& info) {
  int pid = ArgPid(info, 0, "ptraceInterrupt");
  Request(info.Env(), "ptrace(PTRACE_INTERRUPT)", PTRACE_INTERRUPT, pid, nullptr, nullptr);
}

// ptraceCont(pid, signal): resume a stopped task, delivering `signal` (0: none).
void PtraceCont(const Napi::CallbackInfo& info) {
  int pid = ArgPid(info, 0, "ptraceCont");
  int sig = ArgSignal(info, 1, "ptraceCont");
  Request(info.Env(), "ptrace(PTRACE_CONT)", PTRACE_CONT, pid, nullptr,
          reinterpret_cast<void*>(static_cast<uintptr_t>(sig)));
}

// ptraceListen(pid): restart a task in group-stop without letting it run (PTRACE_LISTEN, SEIZE'd
// tasks only): it stays stopped as a SIGSTOP'd process does until SIGCONT, which the tracer then
// sees as another PTRACE_EVENT_STOP.
void PtraceListen(const Napi::CallbackInfo& info) {
  int pid = ArgPid(info, 0, "ptraceListen");
  Request(info.Env(), "ptrace(PTRACE_LISTEN)", PTRACE_LISTEN, pid, nullptr, nullptr);
}

// ptraceDetach(pid, signal): let a stopped task go.
void PtraceDetach(const Napi::CallbackInfo& info) {
  int pid = ArgPid(info, 0, "ptraceDetach");
  int sig = ArgSignal(info, 1, "ptraceDetach");
  Request(info.Env(), "ptrace(PTRACE_DETACH)", PTRACE_DETACH, pid, nullptr,
          reinterpret_cast<void*>(static_cast<uintptr_t>(sig)));
}

// ptraceGetRegs(pid): user_regs_struct of a stopped task, one bigint per register (ptraceRegNames).
Napi::Value PtraceGetRegs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = ArgPid(info, 0, "ptraceGetRegs");
  Napi::BigUint64Array regs = Napi::BigUint64Array::New(env, kRegWords);
  iovec iov{regs.Data(), kRegWords * 8};
  Request(env, "ptrace(PTRACE_GETREGSET)", PTRACE_GETREGSET, pid,
          reinterpret_cast<void*>(static_cast<uintptr_t>(NT_PRSTATUS)), &iov);
  return regs;
}

// ptraceSetRegs(pid, regs): all registers of a stopped task (a BigUint64Array from ptraceGetRegs).
void PtraceSetRegs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = ArgPid(info, 0, "ptraceSetRegs");
  if (!info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array ||
      info[1].As<Napi::TypedArray>().ElementLength() != kRegWords) {
    ThrowType(env, "ptraceSetRegs: regs must be a BigUint64Array of " + std::to_string(kRegWords) +
                       " registers");
  }
  Napi::BigUint64Array regs = info[1].As<Napi::BigUint64Array>();
  iovec iov{regs.Data(), kRegWords * 8};
  Request(env, "ptrace(PTRACE_SETREGSET)", PTRACE_SETREGSET, pid,
          reinterpret_cast<void*>(static_cast<uintptr_t>(NT_PRSTATUS)), &iov);
}

// ptraceGetEventMsg(pid): the message of the last PTRACE_EVENT stop (new pid, seccomp ret data...).
Napi::Value PtraceGetEventMsg(const Napi::CallbackInfo& info) {
  int pid = ArgPid(info, 0, "ptraceGetEventMsg");
  unsigned long msg = 0;
  Request(info.Env(), "ptrace(PTRACE_GETEVENTMSG)", PTRACE_GETEVENTMSG, pid, nullptr, &msg);
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(msg));
}

}  // namespace

void InitPtrace(Napi::Env env, Napi::Object exports) {
  exports.Set("ptraceSeize", Napi::Function::New(env, PtraceSeize, "ptraceSeize"));
  exports.Set("ptraceInterrupt", Napi::Function::New(env, PtraceInterrupt, "ptraceInterrupt"));
  exports.Set("ptraceCont", Napi::Function::New(env, PtraceCont, "ptraceCont"));
  exports.Set("ptraceListen", Napi::Function::New(env, PtraceListen, "ptraceListen"));
  exports.Set("ptraceDetach", Napi::Function::New(env, PtraceDetach, "ptraceDetach"));
  exports.Set("ptraceGetRegs", Napi::Function::New(env, PtraceGetRegs, "ptraceGetRegs"));
  exports.Set("ptraceSetRegs", Napi::Function::New(env, PtraceSetRegs, "ptraceSetRegs"));
  exports.Set("ptraceGetEventMsg", Napi::Function::New(env, PtraceGetEventMsg, "ptraceGetEventMsg"));
  Napi::Array names = Napi::Array::New(env);
  for (const char* name : kRegNames) names.Set(names.Length(), name);
  exports.Set("ptraceRegNames", names);
  TSOR_CONSTANT(exports, PTRACE_O_TRACESYSGOOD);
  TSOR_CONSTANT(exports, PTRACE_O_TRACEFORK);
  TSOR_CONSTANT(exports, PTRACE_O_TRACEVFORK);
  TSOR_CONSTANT(exports, PTRACE_O_TRACECLONE);
  TSOR_CONSTANT(exports, PTRACE_O_TRACEEXEC);
  TSOR_CONSTANT(exports, PTRACE_O_TRACEEXIT);
  TSOR_CONSTANT(exports, PTRACE_O_TRACESECCOMP);
  TSOR_CONSTANT(exports, PTRACE_O_EXITKILL);
  TSOR_CONSTANT(exports, PTRACE_EVENT_FORK);
  TSOR_CONSTANT(exports, PTRACE_EVENT_VFORK);
  TSOR_CONSTANT(exports, PTRACE_EVENT_CLONE);
  TSOR_CONSTANT(exports, PTRACE_EVENT_EXEC);
  TSOR_CONSTANT(exports, PTRACE_EVENT_EXIT);
  TSOR_CONSTANT(exports, PTRACE_EVENT_SECCOMP);
  TSOR_CONSTANT(exports, PTRACE_EVENT_STOP);
}

}  // namespace tsor
