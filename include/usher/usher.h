/* Usher: GLib's GSocketService, re-implemented in Rust as a real GObject.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#define __USHER_H_INSIDE__

#include <usher/usher-version.h>
#include <usher/refusal.h>
#include <usher/socket-settings.h>
#include <usher/socket-service.h>
#include <usher/proxy-info.h>
#include <usher/client-hello.h>
#include <usher/threaded-socket-service.h>

#undef __USHER_H_INSIDE__
