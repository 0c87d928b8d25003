#include "commands.h"
int cmd_vm(int argc, char **argv) { (void)argc; (void)argv; return 2; }
