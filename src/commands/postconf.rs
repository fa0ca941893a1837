//! `mailconf postconf`.

use super::{EXIT_ERROR, EXIT_OK, print_diagnostics};
use crate::cli::PostconfArgs;
use crate::diag::{Diagnostics, Fatal};
use crate::host::Host;
use crate::postfix::PostfixConf;
use crate::postfix::postconf::{Request, run as run_postconf};
use crate::source::{Root, SourceMap};

pub fn run(args: &PostconfArgs) -> i32 {
    let root = Root::new(&args.root);
    let mut sources = SourceMap::default();
    let mut diags = Diagnostics::default();
    let host = Host::discover(&root);
    let conf = PostfixConf::load(
        &root,
        args.postfix_dir.as_deref(),
        host,
        &mut sources,
        &mut diags,
    );
    let req = Request {
        n: args.n,
        x: args.x,
        h: args.h,
        d: args.d,
        master: args.master,
        params: args.params,
        names: args.names.clone(),
    };
    let result = match &conf {
        Some(conf) => run_postconf(conf, &req, &mut diags),
        None => Err(Fatal),
    };
    print_diagnostics(&diags, &sources, false);
    match result {
        Ok(out) => {
            super::emit(&out);
            EXIT_OK
        }
        Err(Fatal) => EXIT_ERROR,
    }
}
