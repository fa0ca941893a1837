//! Reading everything a model needs, shared by generate, check, inspect
//! (and dns, webserver).

use crate::cli::ModelArgs;
use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::dovecot::DovecotConf;
use crate::host::Host;
use crate::model::{self, Inputs, Model};
use crate::options::Options;
use crate::postfix::PostfixConf;
use crate::source::{Root, SourceMap};

pub struct Loaded {
    pub sources: SourceMap,
    pub diags: Diagnostics,
    pub inputs: Inputs,
    pub options: Options,
}

/// Reads the configuration. `Err` (with the diagnostics) when a file has a
/// syntax error or cannot be read and was named explicitly: then nothing
/// must be written (rule M1.3).
pub fn load(args: &ModelArgs) -> Result<Loaded, (SourceMap, Diagnostics)> {
    let root = Root::new(&args.inputs.root);
    let mut sources = SourceMap::default();
    let mut diags = Diagnostics::default();
    if !root.dir().is_dir() {
        diags.push(Diagnostic::error(
            "root_missing",
            format!("--root {}: no such directory", root.dir().display()),
        ));
        return Err((sources, diags));
    }
    let Ok(options) = Options::load(args, &root, &mut sources, &mut diags) else {
        return Err((sources, diags));
    };
    let host = Host::discover(&root);
    let postfix = PostfixConf::load(
        &root,
        args.inputs.postfix_dir.as_deref(),
        host,
        &mut sources,
        &mut diags,
    );
    let dovecot = DovecotConf::load(
        &root,
        args.inputs.dovecot_conf.as_deref(),
        &mut sources,
        &mut diags,
    );
    if let Some(d) = &dovecot {
        d.check(&mut diags);
    }
    // A missing daemon configuration is only an error when its path was
    // given: a server may run only one of the two (the missing half then
    // makes domains incomplete, which is reported per domain).
    let mut out = Diagnostics::default();
    for mut d in diags.into_vec() {
        let explicit = match d.id {
            "postfix_unreadable" => args.inputs.postfix_dir.is_some(),
            "dovecot_unreadable" => args.inputs.dovecot_conf.is_some(),
            _ => true,
        };
        if !explicit {
            d.severity = Severity::Warning;
        }
        out.push(d);
    }
    if out.has_errors() {
        return Err((sources, out));
    }
    Ok(Loaded {
        sources,
        diags: out,
        inputs: Inputs {
            root,
            postfix,
            dovecot,
        },
        options,
    })
}

impl Loaded {
    pub fn model(&mut self) -> Model {
        model::build(
            &self.inputs,
            &self.options,
            &mut self.sources,
            &mut self.diags,
        )
    }
}
