
/*
 * Copyright (C) ngx_http_rooms_module authors
 *
 * Redis Sentinel: what a sentinel publishes on +switch-master.  No nginx
 * dependency: unit tests link this file directly.
 */


#ifndef _ROOMS_SENTINEL_H_INCLUDED_
#define _ROOMS_SENTINEL_H_INCLUDED_


#include <stddef.h>


/* a field of a message: points into it, not NUL-terminated */
typedef struct {
    const char  *data;
    size_t       len;
} rooms_field_t;


typedef struct {
    rooms_field_t  name;          /* the master's name */
    rooms_field_t  old_host;
    rooms_field_t  old_port;
    rooms_field_t  new_host;
    rooms_field_t  new_port;      /* 1..65535 in decimal */
} rooms_switch_t;


/*
 * "<name> <old-ip> <old-port> <new-ip> <new-port>", the payload of a
 * +switch-master message: five fields separated by single spaces, none
 * empty, the ports 1 to 65535 in decimal without a sign or leading zero,
 * nothing else.  Returns 0 and fills *sw, or -1 (*sw is then zeroed).
 * Reads nothing past s[len - 1].
 */
int rooms_switch_master_parse(const char *s, size_t len, rooms_switch_t *sw);


#endif /* _ROOMS_SENTINEL_H_INCLUDED_ */
