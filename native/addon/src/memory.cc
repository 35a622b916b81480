#include "common.h"
namespace tsor {
void InitMemory(Napi::Env, Napi::Object) {}
}
