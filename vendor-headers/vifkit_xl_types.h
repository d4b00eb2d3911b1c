/*
 * vifkit_xl_types.h: the libxl / libxlutil types vifkit's xl-sys crate uses, declared
 * by vifkit (not taken from Xen's headers) from the ABI of Xen 4.17's libxenlight and
 * libxlutil, for the libxl API version below.
 *
 * Only what vifkit calls is here. Every layout must equal Xen's: xl-sys's `abi` test
 * compiles these declarations next to the installed <libxlutil.h> and fails on any
 * difference in size, alignment, field offset, field type or enumerator value.
 *
 * Comments written as doc comments become the Rust documentation of the generated
 * bindings.
 */
#ifndef VIFKIT_XL_TYPES_H
#define VIFKIT_XL_TYPES_H

#include <stdint.h>

/*
 * The libxl API version these declarations follow (0xVVSSEE). Xen 4.17 accepts
 * 0x040200 up to 0x041400; none of them changes the types or functions declared here.
 */
#define VIFKIT_LIBXL_API_VERSION 0x041400

/* ---------------------------------------------------------------------------------- */
/* libxlutil: configuration handles                                                    */
/* ---------------------------------------------------------------------------------- */

/** A parsed xl config file (opaque; made by `xlu_cfg_init`, freed by `xlu_cfg_destroy`). */
typedef struct XLU_Config XLU_Config;

/** A list value inside an `XLU_Config` (opaque; lives as long as its config). */
typedef struct XLU_ConfigList XLU_ConfigList;

/** One value, a string or a list, inside an `XLU_Config` (opaque). */
typedef struct XLU_ConfigValue XLU_ConfigValue;

/** What an `XLU_ConfigValue` holds. */
enum XLU_ConfigValueType {
    /** A string (a quoted string or a number, kept as text). */
    XLU_STRING,
    /** A list of values. */
    XLU_LIST,
};

/* ---------------------------------------------------------------------------------- */
/* libxl: the scalar types a NIC is made of                                            */
/* ---------------------------------------------------------------------------------- */

/** A domain id. */
typedef uint32_t libxl_domid;

/** A device id (the index of a NIC, from 0; -1 when unset). */
typedef int libxl_devid;

/** An Ethernet MAC address, six octets in wire order. */
typedef uint8_t libxl_mac[6];

/** A boolean with a "default" state: 0 is the default, below 0 false, above 0 true. */
typedef struct {
    /** The state (see the type). */
    int val;
} libxl_defbool;

/** How a NIC is presented to an HVM guest. */
typedef enum libxl_nic_type {
    /** Not set. */
    LIBXL_NIC_TYPE_UNKNOWN = 0,
    /** An emulated NIC paired with a PV one (xl's `type=ioemu`). */
    LIBXL_NIC_TYPE_VIF_IOEMU = 1,
    /** A PV NIC only (xl's `type=vif`). */
    LIBXL_NIC_TYPE_VIF = 2,
} libxl_nic_type;

/* ---------------------------------------------------------------------------------- */
/* libxl: a network device                                                             */
/* ---------------------------------------------------------------------------------- */

/**
 * A guest NIC as libxl describes it (Xen 4.17 layout). Set it up with
 * `libxl_device_nic_init` and release it with `libxl_device_nic_dispose`, which frees
 * every string field with `free`.
 */
typedef struct libxl_device_nic {
    /** The backend (driver) domain's id. */
    libxl_domid backend_domid;
    /** The backend domain's name (resolved to `backend_domid` by libxl). */
    char *backend_domname;
    /** The device id. */
    libxl_devid devid;
    /** The MTU (0: unset). */
    int mtu;
    /** The emulated NIC model (`model=`). */
    char *model;
    /** The MAC address. */
    libxl_mac mac;
    /** The guest's addresses, space separated (`ip=`). */
    char *ip;
    /** The bridge to join (`bridge=`). */
    char *bridge;
    /** The backend device name in the backend domain (`vifname=`). */
    char *ifname;
    /** The hotplug script (`script=`). */
    char *script;
    /** The NIC type (`type=`). */
    libxl_nic_type nictype;
    /** The credit per interval in bytes (`rate=`; 0: unlimited). */
    uint64_t rate_bytes_per_interval;
    /** The credit replenishment interval in microseconds (`rate=...@INTERVAL`). */
    uint32_t rate_interval_usecs;
    /** The backend domain's device on the guest's network (`gatewaydev=`). */
    char *gatewaydev;

    /* COLO (coarse-grained lock-stepping) fault tolerance; vifkit never sets these. */

    /** COLO: forwarding device. */
    char *coloft_forwarddev;
    /** COLO proxy socket: mirror id. */
    char *colo_sock_mirror_id;
    /** COLO proxy socket: mirror address. */
    char *colo_sock_mirror_ip;
    /** COLO proxy socket: mirror port. */
    char *colo_sock_mirror_port;
    /** COLO proxy socket: compare, primary input, id. */
    char *colo_sock_compare_pri_in_id;
    /** COLO proxy socket: compare, primary input, address. */
    char *colo_sock_compare_pri_in_ip;
    /** COLO proxy socket: compare, primary input, port. */
    char *colo_sock_compare_pri_in_port;
    /** COLO proxy socket: compare, secondary input, id. */
    char *colo_sock_compare_sec_in_id;
    /** COLO proxy socket: compare, secondary input, address. */
    char *colo_sock_compare_sec_in_ip;
    /** COLO proxy socket: compare, secondary input, port. */
    char *colo_sock_compare_sec_in_port;
    /** COLO proxy socket: compare notification, id. */
    char *colo_sock_compare_notify_id;
    /** COLO proxy socket: compare notification, address. */
    char *colo_sock_compare_notify_ip;
    /** COLO proxy socket: compare notification, port. */
    char *colo_sock_compare_notify_port;
    /** COLO proxy socket: redirector 0, id. */
    char *colo_sock_redirector0_id;
    /** COLO proxy socket: redirector 0, address. */
    char *colo_sock_redirector0_ip;
    /** COLO proxy socket: redirector 0, port. */
    char *colo_sock_redirector0_port;
    /** COLO proxy socket: redirector 1, id. */
    char *colo_sock_redirector1_id;
    /** COLO proxy socket: redirector 1, address. */
    char *colo_sock_redirector1_ip;
    /** COLO proxy socket: redirector 1, port. */
    char *colo_sock_redirector1_port;
    /** COLO proxy socket: redirector 2, id. */
    char *colo_sock_redirector2_id;
    /** COLO proxy socket: redirector 2, address. */
    char *colo_sock_redirector2_ip;
    /** COLO proxy socket: redirector 2, port. */
    char *colo_sock_redirector2_port;
    /** COLO filter: mirror queue. */
    char *colo_filter_mirror_queue;
    /** COLO filter: mirror output device. */
    char *colo_filter_mirror_outdev;
    /** COLO filter: redirector 0 queue. */
    char *colo_filter_redirector0_queue;
    /** COLO filter: redirector 0 input device. */
    char *colo_filter_redirector0_indev;
    /** COLO filter: redirector 0 output device. */
    char *colo_filter_redirector0_outdev;
    /** COLO filter: redirector 1 queue. */
    char *colo_filter_redirector1_queue;
    /** COLO filter: redirector 1 input device. */
    char *colo_filter_redirector1_indev;
    /** COLO filter: redirector 1 output device. */
    char *colo_filter_redirector1_outdev;
    /** COLO compare: primary input. */
    char *colo_compare_pri_in;
    /** COLO compare: secondary input. */
    char *colo_compare_sec_in;
    /** COLO compare: output. */
    char *colo_compare_out;
    /** COLO compare: notification device. */
    char *colo_compare_notify_dev;
    /** COLO proxy socket, secondary side: redirector 0, id. */
    char *colo_sock_sec_redirector0_id;
    /** COLO proxy socket, secondary side: redirector 0, address. */
    char *colo_sock_sec_redirector0_ip;
    /** COLO proxy socket, secondary side: redirector 0, port. */
    char *colo_sock_sec_redirector0_port;
    /** COLO proxy socket, secondary side: redirector 1, id. */
    char *colo_sock_sec_redirector1_id;
    /** COLO proxy socket, secondary side: redirector 1, address. */
    char *colo_sock_sec_redirector1_ip;
    /** COLO proxy socket, secondary side: redirector 1, port. */
    char *colo_sock_sec_redirector1_port;
    /** COLO filter, secondary side: redirector 0 queue. */
    char *colo_filter_sec_redirector0_queue;
    /** COLO filter, secondary side: redirector 0 input device. */
    char *colo_filter_sec_redirector0_indev;
    /** COLO filter, secondary side: redirector 0 output device. */
    char *colo_filter_sec_redirector0_outdev;
    /** COLO filter, secondary side: redirector 1 queue. */
    char *colo_filter_sec_redirector1_queue;
    /** COLO filter, secondary side: redirector 1 input device. */
    char *colo_filter_sec_redirector1_indev;
    /** COLO filter, secondary side: redirector 1 output device. */
    char *colo_filter_sec_redirector1_outdev;
    /** COLO filter, secondary side: rewriter 0 queue. */
    char *colo_filter_sec_rewriter0_queue;
    /** COLO checkpoint: host. */
    char *colo_checkpoint_host;
    /** COLO checkpoint: port. */
    char *colo_checkpoint_port;

    /** Whether the frontend may trust the backend (`trusted` / `untrusted`). */
    libxl_defbool trusted;
} libxl_device_nic;

#endif /* VIFKIT_XL_TYPES_H */
