//! `enum_with_unknown!`: an enum of named code points that keeps every other value.

/// Declares a `Copy` enum of named code points with an `Unknown(T)` variant for every other value,
/// plus lossless `From<T>` and `Into<T>` conversions (after smoltcp's macro of the same name).
///
/// `Unknown(v)` where `v` is a named value is not canonical: `From<T>` never produces it, so
/// always build codes with `From`.
macro_rules! enum_with_unknown {
    (
        $(#[$enum_meta:meta])*
        pub enum $name:ident($ty:ty) {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident = $value:expr
            ),+ $(,)?
        }
    ) => {
        $(#[$enum_meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(
                $(#[$variant_meta])*
                $variant,
            )+
            /// A value this crate does not name, kept as is.
            Unknown($ty),
        }

        impl ::core::convert::From<$ty> for $name {
            fn from(value: $ty) -> Self {
                match value {
                    $( $value => Self::$variant, )+
                    other => Self::Unknown(other),
                }
            }
        }

        impl ::core::convert::From<$name> for $ty {
            fn from(value: $name) -> Self {
                match value {
                    $( $name::$variant => $value, )+
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}
