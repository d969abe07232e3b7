#include <cstdio>

int main() {
  std::puts("rampart " RAMPART_VERSION);
  return 0;
}
