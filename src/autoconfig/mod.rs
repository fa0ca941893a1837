//! The Mozilla autoconfig format: writing `config-v1.1.xml` (rule M9.1)
//! and checking any such file against what real clients accept (M10).
//! Only this module knows XML.

pub mod dom;
pub mod render;
pub mod validate;
