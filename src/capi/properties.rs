//! The C getters and setters of properties, for every type of the C API: one macro makes the
//! pair of a property from its kind, so that each type lists its properties, nothing more.

use glib::prelude::*;
use glib::translate::*;

/// How a property's Rust type crosses the C ABI: numbers as they are, `bool` as `gboolean`.
/// (`pub(crate)` as the functions that name it in their signatures are.)
pub(crate) trait CValue {
    /// The C type; its default is what a getter returns when its check fails.
    type C: Default;
    fn into_c(self) -> Self::C;
    fn from_c(value: Self::C) -> Self;
}

macro_rules! c_value_as_itself {
    ($($type:ty),+) => {
        $(
            impl CValue for $type {
                type C = $type;
                fn into_c(self) -> $type {
                    self
                }
                fn from_c(value: $type) -> $type {
                    value
                }
            }
        )+
    };
}

c_value_as_itself!(u32, u64);

impl CValue for bool {
    type C = glib::ffi::gboolean;
    fn into_c(self) -> glib::ffi::gboolean {
        self.into_glib()
    }
    fn from_c(value: glib::ffi::gboolean) -> bool {
        value != glib::ffi::GFALSE
    }
}

/// Whether `value` is valid for the property whose Rust getter is `getter` (`tcp_user_timeout`:
/// the property `tcp-user-timeout`): within its range.
pub(super) fn is_valid(object: &glib::Object, getter: &str, value: &glib::Value) -> bool {
    let name = getter.replace('_', "-");
    object
        .find_property(&name)
        .is_none_or(|pspec| pspec.value_is_valid(value))
}

/// The C getters and setters of the properties of a type: the instance's C type, its check and
/// how to borrow it; then, for each property, its kind, its C getter (and setter, after `/`),
/// and the Rust getter (and setter) they call:
///
/// * `value`: a number or a boolean ([`CValue`]);
/// * `object`: an object, or `NULL`, of a type and its check, `(transfer full)` when read (another
///   thread may change it, or a certificate file's reload);
/// * `strv`: a list of strings, `NULL` for none, `(transfer full)` when read;
/// * `string`: a string, `NULL` for none, `(transfer full)` when read;
/// * `authentication_mode`: a `GTlsAuthenticationMode`.
macro_rules! property_accessors {
    ($instance:ty, $check:ident, $borrow:path;) => {};
    ($instance:ty, $check:ident, $borrow:path;
        value $get:ident $(/ $set:ident)?: $name:ident $(/ $set_name:ident)?: $type:ty;
        $($rest:tt)*) => {
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $get(instance: *mut $instance) -> <$type as CValue>::C {
            return_if_fail! { $get => Default::default(); $check(instance) }
            unsafe { $borrow(instance) }.$name().into_c()
        }
        $(
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $set(instance: *mut $instance, value: <$type as CValue>::C) {
                return_if_fail! { $set; $check(instance) }
                let instance = unsafe { $borrow(instance) };
                let value = <$type>::from_c(value);
                // glib-rs panics on a value out of the property's range: a critical instead.
                return_if_fail! {
                    $set;
                    is_valid(instance.upcast_ref(), stringify!($name), &value.to_value()),
                }
                instance.$set_name(value)
            }
        )?
        property_accessors!($instance, $check, $borrow; $($rest)*);
    };
    ($instance:ty, $check:ident, $borrow:path;
        object $get:ident / $set:ident: $name:ident / $set_name:ident: $type:ty, $is:ident;
        $($rest:tt)*) => {
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $get(
            instance: *mut $instance,
        ) -> *mut <$type as glib::object::ObjectType>::GlibType {
            return_if_fail! { $get => std::ptr::null_mut(); $check(instance) }
            // (transfer full): the instance's reference may go at once, on another thread.
            unsafe { $borrow(instance) }.$name().into_glib_ptr()
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $set(
            instance: *mut $instance,
            value: *mut <$type as glib::object::ObjectType>::GlibType,
        ) {
            return_if_fail! { $set; $check(instance), value.is_null() || $is(value) }
            let value: Borrowed<Option<$type>> = unsafe { from_glib_borrow(value) };
            unsafe { $borrow(instance) }.$set_name(value.as_ref().as_ref())
        }
        property_accessors!($instance, $check, $borrow; $($rest)*);
    };
    ($instance:ty, $check:ident, $borrow:path;
        strv $get:ident / $set:ident: $name:ident / $set_name:ident;
        $($rest:tt)*) => {
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $get(instance: *mut $instance) -> *mut *mut std::ffi::c_char {
            return_if_fail! { $get => std::ptr::null_mut(); $check(instance) }
            strv_or_null(unsafe { $borrow(instance) }.$name())
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $set(
            instance: *mut $instance,
            value: *const *const std::ffi::c_char,
        ) {
            return_if_fail! { $set; $check(instance), strv_is_utf8(value) }
            let value = unsafe { strv_from_c(value) };
            unsafe { $borrow(instance) }.$set_name(glib::StrV::from(value))
        }
        property_accessors!($instance, $check, $borrow; $($rest)*);
    };
    ($instance:ty, $check:ident, $borrow:path;
        string $get:ident / $set:ident: $name:ident / $set_name:ident;
        $($rest:tt)*) => {
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $get(instance: *mut $instance) -> *mut std::ffi::c_char {
            return_if_fail! { $get => std::ptr::null_mut(); $check(instance) }
            unsafe { $borrow(instance) }.$name().to_glib_full()
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $set(instance: *mut $instance, value: *const std::ffi::c_char) {
            return_if_fail! { $set; $check(instance), string_is_utf8(value) }
            let value: Option<glib::GString> = unsafe { from_glib_none(value) };
            unsafe { $borrow(instance) }.$set_name(value.as_deref())
        }
        property_accessors!($instance, $check, $borrow; $($rest)*);
    };
    ($instance:ty, $check:ident, $borrow:path;
        authentication_mode $get:ident / $set:ident: $name:ident / $set_name:ident;
        $($rest:tt)*) => {
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $get(instance: *mut $instance) -> gio::ffi::GTlsAuthenticationMode {
            return_if_fail! { $get => gio::ffi::G_TLS_AUTHENTICATION_NONE; $check(instance) }
            unsafe { $borrow(instance) }.$name().into_glib()
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $set(
            instance: *mut $instance,
            value: gio::ffi::GTlsAuthenticationMode,
        ) {
            return_if_fail! {
                $set;
                $check(instance),
                (gio::ffi::G_TLS_AUTHENTICATION_NONE..=gio::ffi::G_TLS_AUTHENTICATION_REQUIRED)
                    .contains(&value),
            }
            unsafe { $borrow(instance) }
                .$set_name(unsafe { gio::TlsAuthenticationMode::from_glib(value) })
        }
        property_accessors!($instance, $check, $borrow; $($rest)*);
    };
}
