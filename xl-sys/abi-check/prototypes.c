/*
 * prototypes.c: vifkit's function declarations (vendor-headers/vifkit_xl.h) as
 * redeclarations of Xen's. <libxlutil.h> comes first; our types header is then skipped
 * (its include guard is defined), so our prototypes name Xen's own types, and the C
 * compiler rejects any prototype whose return or parameter types differ from Xen's
 * ("conflicting types"). xl-sys's `abi` test also compiles this with -Wredundant-decls and
 * requires one "redundant redeclaration" per function we declare: a function missing
 * from Xen's headers would be a first declaration, not a redundant one.
 */
#include <libxlutil.h>

#define VIFKIT_XL_TYPES_H
#include "vifkit_xl.h"
