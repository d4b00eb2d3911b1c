/*
 * vifkit_xl.h: the libxlutil and libxenlight functions vifkit's xl-sys crate calls,
 * declared by vifkit (not taken from Xen's headers) from the ABI of Xen 4.17
 * (libxl API version VIFKIT_LIBXL_API_VERSION). Link with -lxlutil -lxenlight.
 *
 * None of these needs a libxl_ctx, so they work on a machine without a Xen hypervisor.
 * xl-sys's `abi` test redeclares each one after the installed <libxlutil.h> so that the
 * C compiler rejects any prototype that differs from Xen's.
 *
 * Error numbers are errno values (0: success).
 */
#ifndef VIFKIT_XL_H
#define VIFKIT_XL_H

#include <stdio.h>

#include "vifkit_xl_types.h"

/* ---------------------------------------------------------------------------------- */
/* libxlutil: xl config files                                                          */
/* ---------------------------------------------------------------------------------- */

/**
 * Makes an empty config. Problems found later are written to `report`, which must stay
 * open until `xlu_cfg_destroy`; `report_filename` (copied) is the name they show.
 * Returns NULL when out of memory.
 */
XLU_Config *xlu_cfg_init(FILE *report, const char *report_filename);

/**
 * Parses `length` bytes at `data` (not NUL-terminated) into `cfg`. Returns 0, or an
 * errno value after writing the reasons to the report stream; after a failure the only
 * call allowed on `cfg` is `xlu_cfg_destroy`.
 */
int xlu_cfg_readdata(XLU_Config *cfg, const char *data, int length);

/** Frees a config and every value in it (NULL is allowed). */
void xlu_cfg_destroy(XLU_Config *cfg);

/**
 * The effective string value of setting `name`, stored in `*value_r` (owned by `cfg`).
 * Returns 0, ESRCH when the setting is absent, or EINVAL when it is a list (reported
 * unless `dont_warn` is non-zero).
 */
int xlu_cfg_get_string(const XLU_Config *cfg, const char *name, const char **value_r,
                       int dont_warn);

/**
 * The effective list value of setting `name` (into `*list_r`, owned by `cfg`) and its
 * length (into `*entries_r`); either out-pointer may be NULL. Returns 0, ESRCH when the
 * setting is absent, or EINVAL when it is a string (reported unless `dont_warn`).
 */
int xlu_cfg_get_list(const XLU_Config *cfg, const char *name, XLU_ConfigList **list_r,
                     int *entries_r, int dont_warn);

/**
 * Item `entry` of a list when it is a string (owned by the config); NULL when `entry`
 * is out of range or the item is a list.
 */
const char *xlu_cfg_get_listitem(const XLU_ConfigList *list, int entry);

/** Item `entry` of a list, string or list; NULL when `entry` is out of range. */
XLU_ConfigValue *xlu_cfg_get_listitem2(const XLU_ConfigList *list, int entry);

/** Whether a value is a string or a list. */
enum XLU_ConfigValueType xlu_cfg_value_type(const XLU_ConfigValue *value);

/**
 * The text of a string value (into `*value_r`, owned by the config). Returns 0, or EINVAL
 * (and NULL) when the value is a list, reported unless `dont_warn`.
 */
int xlu_cfg_value_get_string(const XLU_Config *cfg, XLU_ConfigValue *value,
                             char **value_r, int dont_warn);

/**
 * The list a list value holds (into `*value_r`, owned by the config). Returns 0, or
 * EINVAL (and NULL) when the value is a string, reported unless `dont_warn`.
 */
int xlu_cfg_value_get_list(const XLU_Config *cfg, XLU_ConfigValue *value,
                           XLU_ConfigList **value_r, int dont_warn);

/* ---------------------------------------------------------------------------------- */
/* libxlutil: the vif `rate` key                                                       */
/* ---------------------------------------------------------------------------------- */

/**
 * Parses a vif `rate=` value (`RATE/s[@INTERVAL]`) into `nic->rate_bytes_per_interval`
 * and `nic->rate_interval_usecs`; other fields are left alone. Returns 0, or an errno
 * value (EINVAL, EOVERFLOW) after writing the reason to `cfg`'s report stream.
 */
int xlu_vif_parse_rate(XLU_Config *cfg, const char *rate, libxl_device_nic *nic);

/* ---------------------------------------------------------------------------------- */
/* libxenlight: NICs and NIC types                                                     */
/* ---------------------------------------------------------------------------------- */

/** Sets every field of `nic` to its default (zeroes, NULL strings, unset booleans). */
void libxl_device_nic_init(libxl_device_nic *nic);

/** Frees the strings `nic` holds and resets it. */
void libxl_device_nic_dispose(libxl_device_nic *nic);

/** The name of a NIC type (`vif_ioemu`, `vif`, `unknown`); NULL for an unknown value. */
const char *libxl_nic_type_to_string(libxl_nic_type type);

/**
 * The NIC type named `name` (case-insensitive), into `*type_r`. Returns 0, or a negative
 * libxl error code when no type has that name.
 */
int libxl_nic_type_from_string(const char *name, libxl_nic_type *type_r);

#endif /* VIFKIT_XL_H */
