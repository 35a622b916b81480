// Reading and writing another process's memory (the trapped syscall's pointer arguments):
// process_vm_readv / process_vm_writev. A bad address is EFAULT, a vanished task ESRCH.
#include <sys/uio.h>

#include <vector>

#include "common.h"

namespace tsor {

namespace {

// One call reads at most this much (sockaddr, sockopt values and msghdrs are tiny).
constexpr int64_t kMaxTransfer = 64 << 20;

// processVmReadv(pid, addr, len): the bytes read; shorter than len if the range ends in an
// unmapped page after at least one byte. Nothing readable: NativeError EFAULT.
Napi::Value ProcessVmReadv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = ArgPid(info, 0, "processVmReadv");
  uint64_t addr = ArgU64(info, 1, "processVmReadv", "addr");
  size_t len = static_cast<size_t>(ArgInt(info, 2, "processVmReadv", "len", 0, kMaxTransfer));
  std::vector<uint8_t> buf(len);
  iovec local{buf.data(), len};
  iovec remote{reinterpret_cast<void*>(static_cast<uintptr_t>(addr)), len};
  ssize_t n = len == 0 ? 0 : process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n < 0) ThrowErrno(env, "process_vm_readv", errno);
  return Napi::Buffer<uint8_t>::Copy(env, buf.data(), static_cast<size_t>(n));
}

// processVmWritev(pid, addr, data): the bytes written (a partial write stops at an unmapped page).
Napi::Value ProcessVmWritev(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = ArgPid(info, 0, "processVmWritev");
  uint64_t addr = ArgU64(info, 1, "processVmWritev", "addr");
  Napi::Uint8Array data = ArgBytes(info, 2, "processVmWritev", "data");
  if (static_cast<int64_t>(data.ByteLength()) > kMaxTransfer) {
    ThrowType(env, "processVmWritev: data must be at most 64 MiB");
  }
  iovec local{data.Data(), data.ByteLength()};
  iovec remote{reinterpret_cast<void*>(static_cast<uintptr_t>(addr)), data.ByteLength()};
  ssize_t n = data.ByteLength() == 0 ? 0 : process_vm_writev(pid, &local, 1, &remote, 1, 0);
  if (n < 0) ThrowErrno(env, "process_vm_writev", errno);
  return Napi::Number::New(env, static_cast<double>(n));
}

}  // namespace

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("processVmReadv", Napi::Function::New(env, ProcessVmReadv, "processVmReadv"));
  exports.Set("processVmWritev", Napi::Function::New(env, ProcessVmWritev, "processVmWritev"));
}

}  // namespace tsor
