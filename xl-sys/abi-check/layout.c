/*
 * layout.c: vifkit's type declarations (vendor-headers/vifkit_xl_types.h) against Xen's
 * installed headers, in one translation unit. Ours are included first under other
 * names (vk_*), then <libxlutil.h>; every _Static_assert below compares one fact. Built
 * with -fsyntax-only by xl-sys's `abi` test, which passes -DLIBXL_API_VERSION=... (the
 * version our header pins) and the include paths. Any difference is a compile error.
 */
#include <stddef.h>

/* Our declarations, renamed. */
#define XLU_Config vk_XLU_Config
#define XLU_ConfigList vk_XLU_ConfigList
#define XLU_ConfigValue vk_XLU_ConfigValue
#define XLU_ConfigValueType vk_XLU_ConfigValueType
#define XLU_STRING vk_XLU_STRING
#define XLU_LIST vk_XLU_LIST
#define libxl_domid vk_libxl_domid
#define libxl_devid vk_libxl_devid
#define libxl_mac vk_libxl_mac
#define libxl_defbool vk_libxl_defbool
#define libxl_nic_type vk_libxl_nic_type
#define LIBXL_NIC_TYPE_UNKNOWN vk_LIBXL_NIC_TYPE_UNKNOWN
#define LIBXL_NIC_TYPE_VIF_IOEMU vk_LIBXL_NIC_TYPE_VIF_IOEMU
#define LIBXL_NIC_TYPE_VIF vk_LIBXL_NIC_TYPE_VIF
#define libxl_device_nic vk_libxl_device_nic
#include "vifkit_xl_types.h"
#undef XLU_Config
#undef XLU_ConfigList
#undef XLU_ConfigValue
#undef XLU_ConfigValueType
#undef XLU_STRING
#undef XLU_LIST
#undef libxl_domid
#undef libxl_devid
#undef libxl_mac
#undef libxl_defbool
#undef libxl_nic_type
#undef LIBXL_NIC_TYPE_UNKNOWN
#undef LIBXL_NIC_TYPE_VIF_IOEMU
#undef LIBXL_NIC_TYPE_VIF
#undef libxl_device_nic

/* Xen's. */
#include <libxlutil.h>

#define SAME_TYPE(a, b) __builtin_types_compatible_p(a, b)
#define SAME_SIZE_ALIGN(a, b) (sizeof(a) == sizeof(b) && _Alignof(a) == _Alignof(b))

_Static_assert(VIFKIT_LIBXL_API_VERSION == LIBXL_API_VERSION,
               "the test must pass our pinned LIBXL_API_VERSION");

/* Scalar typedefs: the same C type. */
_Static_assert(SAME_TYPE(vk_libxl_domid, libxl_domid), "libxl_domid");
_Static_assert(SAME_TYPE(vk_libxl_devid, libxl_devid), "libxl_devid");
_Static_assert(SAME_TYPE(vk_libxl_mac, libxl_mac), "libxl_mac");

/* libxl_defbool. */
_Static_assert(SAME_SIZE_ALIGN(vk_libxl_defbool, libxl_defbool), "libxl_defbool size");
_Static_assert(offsetof(vk_libxl_defbool, val) == offsetof(libxl_defbool, val),
               "libxl_defbool.val offset");
_Static_assert(SAME_TYPE(__typeof__(((vk_libxl_defbool *)0)->val),
                         __typeof__(((libxl_defbool *)0)->val)),
               "libxl_defbool.val type");

/* Enumerations: size and every enumerator's value. */
_Static_assert(SAME_SIZE_ALIGN(enum vk_XLU_ConfigValueType, enum XLU_ConfigValueType),
               "enum XLU_ConfigValueType size");
_Static_assert(vk_XLU_STRING == XLU_STRING, "XLU_STRING");
_Static_assert(vk_XLU_LIST == XLU_LIST, "XLU_LIST");
_Static_assert(SAME_SIZE_ALIGN(vk_libxl_nic_type, libxl_nic_type), "libxl_nic_type size");
_Static_assert(vk_LIBXL_NIC_TYPE_UNKNOWN == LIBXL_NIC_TYPE_UNKNOWN, "LIBXL_NIC_TYPE_UNKNOWN");
_Static_assert(vk_LIBXL_NIC_TYPE_VIF_IOEMU == LIBXL_NIC_TYPE_VIF_IOEMU,
               "LIBXL_NIC_TYPE_VIF_IOEMU");
_Static_assert(vk_LIBXL_NIC_TYPE_VIF == LIBXL_NIC_TYPE_VIF, "LIBXL_NIC_TYPE_VIF");

/* libxl_device_nic: size, alignment, and every field's offset, size and type. */
_Static_assert(SAME_SIZE_ALIGN(vk_libxl_device_nic, libxl_device_nic),
               "libxl_device_nic size or alignment");

#define OURS(f) (((vk_libxl_device_nic *)0)->f)
#define XENS(f) (((libxl_device_nic *)0)->f)
/* A field whose type is one of the renamed enums or structs: place and size. */
#define FIELD_AT(f)                                                                     \
    _Static_assert(offsetof(vk_libxl_device_nic, f) == offsetof(libxl_device_nic, f)    \
                       && sizeof(OURS(f)) == sizeof(XENS(f)),                           \
                   "libxl_device_nic." #f " offset or size")
/* Any other field: also the same C type. */
#define FIELD(f)                                                                        \
    FIELD_AT(f);                                                                        \
    _Static_assert(SAME_TYPE(__typeof__(OURS(f)), __typeof__(XENS(f))),                 \
                   "libxl_device_nic." #f " type")

FIELD(backend_domid);
FIELD(backend_domname);
FIELD(devid);
FIELD(mtu);
FIELD(model);
FIELD(mac);
FIELD(ip);
FIELD(bridge);
FIELD(ifname);
FIELD(script);
FIELD_AT(nictype);
FIELD(rate_bytes_per_interval);
FIELD(rate_interval_usecs);
FIELD(gatewaydev);
FIELD(coloft_forwarddev);
FIELD(colo_sock_mirror_id);
FIELD(colo_sock_mirror_ip);
FIELD(colo_sock_mirror_port);
FIELD(colo_sock_compare_pri_in_id);
FIELD(colo_sock_compare_pri_in_ip);
FIELD(colo_sock_compare_pri_in_port);
FIELD(colo_sock_compare_sec_in_id);
FIELD(colo_sock_compare_sec_in_ip);
FIELD(colo_sock_compare_sec_in_port);
FIELD(colo_sock_compare_notify_id);
FIELD(colo_sock_compare_notify_ip);
FIELD(colo_sock_compare_notify_port);
FIELD(colo_sock_redirector0_id);
FIELD(colo_sock_redirector0_ip);
FIELD(colo_sock_redirector0_port);
FIELD(colo_sock_redirector1_id);
FIELD(colo_sock_redirector1_ip);
FIELD(colo_sock_redirector1_port);
FIELD(colo_sock_redirector2_id);
FIELD(colo_sock_redirector2_ip);
FIELD(colo_sock_redirector2_port);
FIELD(colo_filter_mirror_queue);
FIELD(colo_filter_mirror_outdev);
FIELD(colo_filter_redirector0_queue);
FIELD(colo_filter_redirector0_indev);
FIELD(colo_filter_redirector0_outdev);
FIELD(colo_filter_redirector1_queue);
FIELD(colo_filter_redirector1_indev);
FIELD(colo_filter_redirector1_outdev);
FIELD(colo_compare_pri_in);
FIELD(colo_compare_sec_in);
FIELD(colo_compare_out);
FIELD(colo_compare_notify_dev);
FIELD(colo_sock_sec_redirector0_id);
FIELD(colo_sock_sec_redirector0_ip);
FIELD(colo_sock_sec_redirector0_port);
FIELD(colo_sock_sec_redirector1_id);
FIELD(colo_sock_sec_redirector1_ip);
FIELD(colo_sock_sec_redirector1_port);
FIELD(colo_filter_sec_redirector0_queue);
FIELD(colo_filter_sec_redirector0_indev);
FIELD(colo_filter_sec_redirector0_outdev);
FIELD(colo_filter_sec_redirector1_queue);
FIELD(colo_filter_sec_redirector1_indev);
FIELD(colo_filter_sec_redirector1_outdev);
FIELD(colo_filter_sec_rewriter0_queue);
FIELD(colo_checkpoint_host);
FIELD(colo_checkpoint_port);
FIELD_AT(trusted);

/* Nothing of Xen's follows `trusted' but padding. */
_Static_assert(sizeof(libxl_device_nic)
                   - (offsetof(libxl_device_nic, trusted) + sizeof(libxl_defbool))
                   < _Alignof(libxl_device_nic),
               "libxl_device_nic has fields after `trusted'");
