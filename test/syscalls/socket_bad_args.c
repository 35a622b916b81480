/* socket() argument errors: unknown family, wrong protocol for the type, unknown type flags. */
#include "common.h"
int main(void) {
  SHOW("socket(12345, SOCK_STREAM, 0)", socket(12345, SOCK_STREAM, 0));
  SHOW("socket(AF_INET, SOCK_STREAM, IPPROTO_UDP)", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
  SHOW("socket(AF_INET6, SOCK_STREAM, IPPROTO_UDP)", socket(AF_INET6, SOCK_STREAM, IPPROTO_UDP));
  SHOW("socket(AF_INET, SOCK_STREAM|0x40000000, 0)", socket(AF_INET, SOCK_STREAM | 0x40000000, 0));
  SHOW("socket(AF_INET, 77, 0)", socket(AF_INET, 77, 0));
  return 0;
}
