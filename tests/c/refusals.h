/* What a service refuses, kept for the test: each refused signal, and each accept error. */

#pragma once

#include <usher/usher.h>

/* One refusal reported with the refused signal. */
typedef struct
{
  char *peer;
  UsherRefusal reason;
  GError *error;
} Refusal;

#define REFUSAL(refusals, index) ((Refusal *) (refusals)->pdata[index])

static inline void
refusal_free (Refusal *refusal)
{
  g_free (refusal->peer);
  g_error_free (refusal->error);
  g_free (refusal);
}

/* A refused handler that keeps each refusal in the GPtrArray refusals (of refusal_free). */
static inline void
keep_refusal (UsherSocketService *service, GInetAddress *peer, UsherRefusal reason,
              GError *error, GPtrArray *refusals)
{
  Refusal *refusal = g_new0 (Refusal, 1);

  g_assert_true (USHER_IS_SOCKET_SERVICE (service));
  g_assert_true (peer == NULL || G_IS_INET_ADDRESS (peer));
  g_assert_nonnull (error);
  refusal->peer = peer == NULL ? NULL : g_inet_address_to_string (peer);
  refusal->reason = reason;
  refusal->error = g_error_copy (error);
  g_ptr_array_add (refusals, refusal);
}

/* An accept-error handler that keeps a copy of every error in the GPtrArray errors. */
static inline void
keep_error (UsherSocketService *service, const GError *error, GPtrArray *errors)
{
  g_ptr_array_add (errors, g_error_copy (error));
}
