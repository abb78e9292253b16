//! The C ABI of Usher's types: instance and class structures, and calls through their slots.
//!
//! The structures mirror `include/usher/socket-service.h` and
//! `include/usher/threaded-socket-service.h` field for field; keep them in sync. The class
//! structures have the size of GLib's `GSocketServiceClass` and `GThreadedSocketServiceClass`,
//! with the virtual methods at the same offsets, so that code written for GLib's types keeps its
//! layout (the C ABI tests check this).

#![allow(non_camel_case_types)]

use crate::client_hello::ClientHello;
use gio::ffi::{GSocketConnection, GSocketListener, GSocketListenerClass};
use glib::ffi::{GError, gboolean, gpointer};
use glib::gobject_ffi::GObject;
use glib::prelude::*;
use glib::subclass::prelude::*;
use glib::translate::*;

/// `UsherSocketService`: the instance structure. It has no public fields.
#[repr(C)]
pub struct UsherSocketService {
    /// The `GSocketListener` the service is.
    pub parent_instance: GSocketListener,
}

/// `UsherSocketServiceClass`: the class structure, laid out like `GSocketServiceClass`.
#[repr(C)]
pub struct UsherSocketServiceClass {
    /// `GSocketListener`'s class structure.
    pub parent_class: GSocketListenerClass,
    /// Class handler of `::incoming`, at the offset of `GSocketServiceClass.incoming`.
    pub incoming: Option<ConnectionVfunc<UsherSocketService>>,
    /// Class handler of `::accept-error`, in GLib's first reserved slot.
    pub accept_error:
        Option<unsafe extern "C" fn(service: *mut UsherSocketService, error: *const GError)>,
    /// Class handler of `::accept-certificate`, in GLib's second reserved slot.
    pub accept_certificate: Option<
        unsafe extern "C" fn(
            service: *mut UsherSocketService,
            connection: *mut gio::ffi::GTlsConnection,
            peer_certificate: *mut gio::ffi::GTlsCertificate,
            errors: gio::ffi::GTlsCertificateFlags,
        ) -> gboolean,
    >,
    /// Class handler of `::accept-credentials`, in GLib's third reserved slot.
    pub accept_credentials: Option<
        unsafe extern "C" fn(
            service: *mut UsherSocketService,
            connection: *mut GSocketConnection,
            credentials: *mut gio::ffi::GCredentials,
        ) -> gboolean,
    >,
    /// Class handler of `::select-certificate`, in the first of the slots Usher had left:
    /// returns a reference of the caller's, or NULL.
    pub select_certificate: Option<
        unsafe extern "C" fn(
            service: *mut UsherSocketService,
            connection: *mut GSocketConnection,
            client_hello: *mut UsherClientHello,
        ) -> *mut gio::ffi::GTlsCertificate,
    >,
    /// Room for more virtual methods, keeping the size of `GSocketServiceClass`.
    pub padding: [gpointer; 2],
}

/// `UsherClientHello`: the instance structure, opaque to C (`G_DECLARE_FINAL_TYPE`).
pub type UsherClientHello = <ClientHello as glib::object::ObjectType>::GlibType;

/// `UsherThreadedSocketService`: the instance structure. It has no public fields.
#[repr(C)]
pub struct UsherThreadedSocketService {
    /// The `UsherSocketService` the threaded service is.
    pub parent_instance: UsherSocketService,
}

/// `UsherThreadedSocketServiceClass`: laid out like `GThreadedSocketServiceClass`.
#[repr(C)]
pub struct UsherThreadedSocketServiceClass {
    /// `UsherSocketServiceClass`, the class structure of the service.
    pub parent_class: UsherSocketServiceClass,
    /// Class handler of `::run`, at the offset of `GThreadedSocketServiceClass.run`.
    pub run: Option<ConnectionVfunc<UsherThreadedSocketService>>,
    /// Room for more virtual methods, keeping the size of `GThreadedSocketServiceClass`.
    pub padding: [gpointer; 5],
}

/// The C type of the `incoming` and `run` virtual methods, for instance structure `I`.
pub type ConnectionVfunc<I> = unsafe extern "C" fn(
    service: *mut I,
    connection: *mut GSocketConnection,
    source_object: *mut GObject,
) -> gboolean;

/// Declares `$instance` and `$class` the instance and class structures of `$imp`, whose
/// `ObjectSubclass` names them as `Instance` and `Class`.
///
/// Each structure must begin with the parent type's structure, as the ones above do.
macro_rules! impl_structs {
    ($imp:ty, $instance:ty, $class:ty) => {
        // SAFETY: see the macro's documentation.
        unsafe impl glib::subclass::types::InstanceStruct for $instance {
            type Type = $imp;
        }
        unsafe impl glib::subclass::types::ClassStruct for $class {
            type Type = $imp;
        }
    };
}
pub(crate) use impl_structs;

/// Registers `name` on `itype`, a signal shaped like GLib's `incoming` and `run` and registered
/// as GLib registers them: `(GSocketConnection, GObject?) -> gboolean`, RUN_LAST, ended by the
/// first handler that returns TRUE (`g_signal_accumulator_true_handled`), and whose class
/// handler is the virtual method at `class_offset` in the class structure of the instance
/// (`g_signal_type_cclosure_new()`), so that the overrides of every language run. The class
/// closure has a marshaller of its own (GLib's `BOOLEAN:OBJECT,OBJECT` one is private): no Rust
/// closure or value conversion on each emission. Handlers connected from C are marshalled as
/// before, by `g_cclosure_marshal_generic()`. Returns the signal's id.
///
/// # Safety
/// `class_offset` must be the offset of a [`ConnectionVfunc`] slot in the class structure of
/// `itype` and of its subclasses.
unsafe fn register_connection_signal(
    name: &std::ffi::CStr,
    itype: glib::Type,
    class_offset: usize,
) -> u32 {
    /// Calls the virtual method GLib's class closure found in the instance's class (it calls
    /// this only for one that is set), with the signal's arguments.
    unsafe extern "C" fn marshal(
        _closure: *mut glib::gobject_ffi::GClosure,
        return_value: *mut glib::gobject_ffi::GValue,
        n_param_values: u32,
        param_values: *const glib::gobject_ffi::GValue,
        _invocation_hint: gpointer,
        vfunc: gpointer,
    ) {
        unsafe {
            debug_assert_eq!(n_param_values, 3);
            let value =
                |index: usize| glib::gobject_ffi::g_value_peek_pointer(param_values.add(index));
            let vfunc: ConnectionVfunc<glib::gobject_ffi::GTypeInstance> =
                std::mem::transmute(vfunc);
            let handled = vfunc(value(0) as *mut _, value(1) as *mut _, value(2) as *mut _);
            if !return_value.is_null() {
                glib::gobject_ffi::g_value_set_boolean(return_value, handled);
            }
        }
    }

    unsafe {
        let closure =
            glib::gobject_ffi::g_signal_type_cclosure_new(itype.into_glib(), class_offset as u32);
        glib::gobject_ffi::g_closure_set_marshal(closure, Some(marshal));
        let mut param_types = [
            gio::SocketConnection::static_type().into_glib(),
            glib::Object::static_type().into_glib(),
        ];
        glib::gobject_ffi::g_signal_newv(
            name.as_ptr(),
            itype.into_glib(),
            glib::gobject_ffi::G_SIGNAL_RUN_LAST,
            closure,
            Some(glib::gobject_ffi::g_signal_accumulator_true_handled),
            std::ptr::null_mut(),
            None,
            glib::Type::BOOL.into_glib(),
            param_types.len() as u32,
            param_types.as_mut_ptr(),
        )
    }
}

/// Registers `incoming` on `itype`, `UsherSocketService`'s type; returns its id.
pub(crate) fn register_incoming_signal(itype: glib::Type) -> u32 {
    // SAFETY: the offset of the `incoming` slot, which subclasses' structures begin with.
    unsafe {
        register_connection_signal(
            c"incoming",
            itype,
            std::mem::offset_of!(UsherSocketServiceClass, incoming),
        )
    }
}

/// Registers `run` on `itype`, `UsherThreadedSocketService`'s type; returns its id.
pub(crate) fn register_run_signal(itype: glib::Type) -> u32 {
    // SAFETY: as above, for `run`.
    unsafe {
        register_connection_signal(
            c"run",
            itype,
            std::mem::offset_of!(UsherThreadedSocketServiceClass, run),
        )
    }
}

/// Emits `signal_id`, a signal registered by [`register_incoming_signal`] or
/// [`register_run_signal`], on `instance`: whether a handler handled it. `g_signal_emit()`, as
/// GLib emits them, without glib-rs's checks of the arguments against the signal's query.
pub(crate) fn emit_connection_signal(
    instance: &impl IsA<glib::Object>,
    signal_id: u32,
    connection: &gio::SocketConnection,
    source_object: Option<&glib::Object>,
) -> bool {
    let mut handled = glib::ffi::GFALSE;
    // SAFETY: the signal's arguments are a `GSocketConnection`, a `GObject` or NULL, and where
    // the `gboolean` it returns goes.
    unsafe {
        glib::gobject_ffi::g_signal_emit(
            instance.as_ptr() as *mut GObject,
            signal_id,
            0,
            connection.as_ptr(),
            source_object.map_or(std::ptr::null_mut(), |object| object.as_ptr()),
            &mut handled,
        );
    }
    handled != glib::ffi::GFALSE
}

/// Calls `vfunc`, an `incoming` or `run` slot, on `instance`: also the `parent_*` calls.
///
/// # Safety
/// `instance` must be an instance of the type whose class `vfunc` comes from, or of a subclass.
pub(crate) unsafe fn call_connection_vfunc_raw<I>(
    vfunc: Option<ConnectionVfunc<I>>,
    instance: *mut I,
    connection: &gio::SocketConnection,
    source_object: Option<&glib::Object>,
) -> bool {
    match vfunc {
        Some(vfunc) => unsafe {
            from_glib(vfunc(
                instance,
                connection.to_glib_none().0,
                source_object.to_glib_none().0,
            ))
        },
        None => false,
    }
}

/// What the class slots of `UsherSocketService` call: the class handlers of its signals, in
/// Rust. The service implements them, and so does every Rust subclass, through
/// `SocketServiceImpl`.
pub(crate) trait SocketServiceClassHandlers: ObjectSubclass {
    fn incoming(
        &self,
        connection: &gio::SocketConnection,
        source_object: Option<&glib::Object>,
    ) -> bool;

    fn accept_error(&self, error: &glib::Error);

    fn accept_certificate(
        &self,
        connection: &gio::TlsConnection,
        peer_certificate: &gio::TlsCertificate,
        errors: gio::TlsCertificateFlags,
    ) -> bool;

    fn accept_credentials(
        &self,
        connection: &gio::SocketConnection,
        credentials: &gio::Credentials,
    ) -> bool;

    fn select_certificate(
        &self,
        connection: &gio::SocketConnection,
        client_hello: &ClientHello,
    ) -> Option<gio::TlsCertificate>;
}

/// Points the slots of `klass` to `T`'s class handlers.
pub(crate) fn set_socket_service_slots<T: SocketServiceClassHandlers>(
    klass: &mut UsherSocketServiceClass,
) {
    unsafe extern "C" fn incoming<T: SocketServiceClassHandlers>(
        service: *mut UsherSocketService,
        connection: *mut GSocketConnection,
        source_object: *mut GObject,
    ) -> gboolean {
        // SAFETY: as `call_connection_handler` requires.
        unsafe { call_connection_handler::<T>(service, connection, source_object, T::incoming) }
    }
    unsafe extern "C" fn accept_error<T: SocketServiceClassHandlers>(
        service: *mut UsherSocketService,
        error: *const GError,
    ) {
        // SAFETY: as above.
        unsafe {
            let instance = &*(service as *mut T::Instance);
            instance
                .imp()
                .accept_error(&from_glib_borrow(error as *mut GError))
        }
    }
    unsafe extern "C" fn accept_certificate<T: SocketServiceClassHandlers>(
        service: *mut UsherSocketService,
        connection: *mut gio::ffi::GTlsConnection,
        peer_certificate: *mut gio::ffi::GTlsCertificate,
        errors: gio::ffi::GTlsCertificateFlags,
    ) -> gboolean {
        // SAFETY: as above.
        unsafe {
            let instance = &*(service as *mut T::Instance);
            instance
                .imp()
                .accept_certificate(
                    &from_glib_borrow(connection),
                    &from_glib_borrow(peer_certificate),
                    from_glib(errors),
                )
                .into_glib()
        }
    }
    unsafe extern "C" fn accept_credentials<T: SocketServiceClassHandlers>(
        service: *mut UsherSocketService,
        connection: *mut GSocketConnection,
        credentials: *mut gio::ffi::GCredentials,
    ) -> gboolean {
        // SAFETY: as above.
        unsafe {
            let instance = &*(service as *mut T::Instance);
            instance
                .imp()
                .accept_credentials(
                    &from_glib_borrow(connection),
                    &from_glib_borrow(credentials),
                )
                .into_glib()
        }
    }
    unsafe extern "C" fn select_certificate<T: SocketServiceClassHandlers>(
        service: *mut UsherSocketService,
        connection: *mut GSocketConnection,
        client_hello: *mut UsherClientHello,
    ) -> *mut gio::ffi::GTlsCertificate {
        // SAFETY: as above.
        unsafe {
            let instance = &*(service as *mut T::Instance);
            instance
                .imp()
                .select_certificate(
                    &from_glib_borrow(connection),
                    &from_glib_borrow(client_hello),
                )
                .into_glib_ptr()
        }
    }
    klass.incoming = Some(incoming::<T>);
    klass.accept_error = Some(accept_error::<T>);
    klass.accept_certificate = Some(accept_certificate::<T>);
    klass.accept_credentials = Some(accept_credentials::<T>);
    klass.select_certificate = Some(select_certificate::<T>);
}

/// What the `run` slot of `UsherThreadedSocketService` calls, for Rust subclasses.
pub(crate) trait ThreadedSocketServiceClassHandlers: ObjectSubclass {
    fn run(&self, connection: &gio::SocketConnection, source_object: Option<&glib::Object>)
    -> bool;
}

/// Points the `run` slot of `klass` to `T`'s class handler.
pub(crate) fn set_threaded_socket_service_slots<T: ThreadedSocketServiceClassHandlers>(
    klass: &mut UsherThreadedSocketServiceClass,
) {
    unsafe extern "C" fn run<T: ThreadedSocketServiceClassHandlers>(
        service: *mut UsherThreadedSocketService,
        connection: *mut GSocketConnection,
        source_object: *mut GObject,
    ) -> gboolean {
        // SAFETY: as `call_connection_handler` requires.
        unsafe { call_connection_handler::<T>(service, connection, source_object, T::run) }
    }
    klass.run = Some(run::<T>);
}

/// Calls `handler`, `T`'s `incoming` or `run`, with the arguments of the slot.
///
/// # Safety
/// As GObject calls a slot: `instance` an instance of `T`'s type, and the signal's arguments,
/// alive for the call.
unsafe fn call_connection_handler<T: ObjectSubclass>(
    instance: *mut impl Sized,
    connection: *mut GSocketConnection,
    source_object: *mut GObject,
    handler: fn(&T, &gio::SocketConnection, Option<&glib::Object>) -> bool,
) -> gboolean {
    unsafe {
        let instance = &*(instance as *mut T::Instance);
        let source_object = Option::<glib::Object>::from_glib_borrow(source_object);
        handler(
            instance.imp(),
            &from_glib_borrow(connection),
            source_object.as_ref().as_ref(),
        )
        .into_glib()
    }
}

/// The class structure of `instance`'s class (its own, or a subclass's, which begins with it).
pub(crate) fn class_of<T: ObjectSubclass>(instance: &T::Type) -> &'static T::Class {
    // SAFETY: every instance of `T`'s type points to a class structure that begins with
    // `T::Class`, and classes of static types live as long as the process.
    unsafe {
        let instance = instance.as_ptr() as *const glib::gobject_ffi::GTypeInstance;
        &*((*instance).g_class as *const T::Class)
    }
}

/// Calls the `accept_error` slot of `service`'s class, if it has one.
pub(crate) fn call_accept_error<T>(service: &T::Type, error: &glib::Error)
where
    T: ObjectSubclass<Instance = UsherSocketService, Class = UsherSocketServiceClass>,
{
    if let Some(accept_error) = class_of::<T>(service).accept_error {
        // SAFETY: the slot of `service`'s own class, with its instance.
        unsafe { accept_error(service.as_ptr() as *mut _, error.to_glib_none().0) }
    }
}

/// Calls the `accept_certificate` slot of `service`'s class, if it has one.
pub(crate) fn call_accept_certificate<T>(
    service: &T::Type,
    connection: &gio::TlsConnection,
    peer_certificate: &gio::TlsCertificate,
    errors: gio::TlsCertificateFlags,
) -> bool
where
    T: ObjectSubclass<Instance = UsherSocketService, Class = UsherSocketServiceClass>,
{
    let Some(accept_certificate) = class_of::<T>(service).accept_certificate else {
        return false;
    };
    // SAFETY: the slot of `service`'s own class, with its instance and the signal's arguments.
    unsafe {
        from_glib(accept_certificate(
            service.as_ptr() as *mut _,
            connection.to_glib_none().0,
            peer_certificate.to_glib_none().0,
            errors.into_glib(),
        ))
    }
}

/// Whether the class of `service`, a subclass of `T`'s type, has an `accept_credentials` of
/// its own.
pub(crate) fn overrides_accept_credentials<T>(service: &T::Type) -> bool
where
    T: ObjectSubclass<Instance = UsherSocketService, Class = UsherSocketServiceClass>,
{
    let (own, base) = (class_of::<T>(service), base_class::<T>());
    match (own.accept_credentials, base.accept_credentials) {
        (Some(own), Some(base)) => !std::ptr::fn_addr_eq(own, base),
        (own, base) => own.is_some() != base.is_some(),
    }
}

/// Whether the class of `service`, a subclass of `T`'s type, has a `select_certificate` of
/// its own.
pub(crate) fn overrides_select_certificate<T>(service: &T::Type) -> bool
where
    T: ObjectSubclass<Instance = UsherSocketService, Class = UsherSocketServiceClass>,
{
    let (own, base) = (class_of::<T>(service), base_class::<T>());
    match (own.select_certificate, base.select_certificate) {
        (Some(own), Some(base)) => !std::ptr::fn_addr_eq(own, base),
        (own, base) => own.is_some() != base.is_some(),
    }
}

/// The class structure of `T`'s own type.
fn base_class<T: ObjectSubclass>() -> &'static T::Class {
    // SAFETY: the class of `T`'s type is initialized once it has an instance, and lives as
    // long as the process.
    unsafe { &*(glib::gobject_ffi::g_type_class_peek(T::type_().into_glib()) as *const T::Class) }
}

/// Calls the `select_certificate` slot of `service`'s class, if it has one.
pub(crate) fn call_select_certificate<T>(
    service: &T::Type,
    connection: &gio::SocketConnection,
    client_hello: &ClientHello,
) -> Option<gio::TlsCertificate>
where
    T: ObjectSubclass<Instance = UsherSocketService, Class = UsherSocketServiceClass>,
{
    let select_certificate = class_of::<T>(service).select_certificate?;
    // SAFETY: the slot of `service`'s own class, with its instance and the signal's arguments;
    // it returns a reference of the caller's, or NULL.
    unsafe {
        from_glib_full(select_certificate(
            service.as_ptr() as *mut _,
            connection.to_glib_none().0,
            client_hello.to_glib_none().0,
        ))
    }
}

/// Calls the `accept_credentials` slot of `service`'s class, if it has one.
pub(crate) fn call_accept_credentials<T>(
    service: &T::Type,
    connection: &gio::SocketConnection,
    credentials: &gio::Credentials,
) -> bool
where
    T: ObjectSubclass<Instance = UsherSocketService, Class = UsherSocketServiceClass>,
{
    let Some(accept_credentials) = class_of::<T>(service).accept_credentials else {
        return true;
    };
    // SAFETY: the slot of `service`'s own class, with its instance and the signal's arguments.
    unsafe {
        from_glib(accept_credentials(
            service.as_ptr() as *mut _,
            connection.to_glib_none().0,
            credentials.to_glib_none().0,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    // The sizes GLib 2.74 has on LP64 (x86_64, aarch64): see the C ABI test for the check
    // against the installed headers.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn layout_matches_glib() {
        assert_eq!(size_of::<GSocketListenerClass>(), 192);
        assert_eq!(size_of::<UsherSocketServiceClass>(), 248);
        assert_eq!(offset_of!(UsherSocketServiceClass, select_certificate), 224);
        assert_eq!(offset_of!(UsherSocketServiceClass, incoming), 192);
        assert_eq!(size_of::<UsherThreadedSocketServiceClass>(), 296);
        assert_eq!(offset_of!(UsherThreadedSocketServiceClass, run), 248);
    }
}
