//! `mailconf doveconf`.

use super::{EXIT_ERROR, EXIT_OK, print_diagnostics};
use crate::cli::DoveconfArgs;
use crate::diag::Diagnostics;
use crate::dovecot::DovecotConf;
use crate::dovecot::doveconf::{show_changed, show_values};
use crate::source::{Root, SourceMap};

pub fn run(args: &DoveconfArgs) -> i32 {
    let root = Root::new(&args.root);
    let mut sources = SourceMap::default();
    let mut diags = Diagnostics::default();
    let conf = DovecotConf::load(
        &root,
        args.dovecot_conf.as_deref(),
        &mut sources,
        &mut diags,
    );
    if let Some(c) = &conf {
        c.check(&mut diags);
    }
    print_diagnostics(&diags, &sources, false);
    let Some(conf) = conf.filter(|_| !diags.has_errors()) else {
        return EXIT_ERROR;
    };
    let out = if args.names.is_empty() {
        show_changed(&conf)
    } else {
        show_values(&conf, &args.names, args.h)
    };
    super::emit(&out);
    EXIT_OK
}
