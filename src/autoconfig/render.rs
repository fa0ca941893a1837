//! Writes one `config-v1.1.xml` (rule M9.1): the XML declaration, root
//! `clientConfig version="1.1"`, one `emailProvider`, then incoming servers
//! in preference order, then outgoing; each server's children in the order
//! hostname, port, socketType, authentication, username (FairEmail needs
//! that order). Two-space indent, UTF-8 without BOM, final newline,
//! byte-for-byte deterministic.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::model::{Domain, Model, Protocol};

fn text_element(w: &mut Writer<Vec<u8>>, name: &str, text: &str) -> std::io::Result<()> {
    w.write_event(Event::Start(BytesStart::new(name)))?;
    w.write_event(Event::Text(BytesText::new(text)))?;
    w.write_event(Event::End(BytesEnd::new(name)))
}

/// The file for `domain`. `None` when the domain has no host name for a
/// protocol it needs (reported elsewhere).
pub fn render(domain: &Domain, model: &Model, documentation_url: Option<&str>) -> Option<String> {
    write(domain, model, documentation_url).ok().flatten()
}

fn write(
    domain: &Domain,
    model: &Model,
    documentation_url: Option<&str>,
) -> std::io::Result<Option<String>> {
    // A file is about 1 KB (more with many hosts or a long name); growing
    // the buffer from empty cost 15% of a run's instructions in reallocation.
    let mut w = Writer::new_with_indent(Vec::with_capacity(2048), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut root = BytesStart::new("clientConfig");
    root.push_attribute(("version", "1.1"));
    w.write_event(Event::Start(root))?;
    let mut provider = BytesStart::new("emailProvider");
    provider.push_attribute(("id", domain.name.as_str()));
    w.write_event(Event::Start(provider))?;
    text_element(&mut w, "domain", &domain.name)?;
    text_element(&mut w, "displayName", &domain.display_name)?;
    text_element(&mut w, "displayShortName", &domain.display_short_name)?;
    for e in model.entries() {
        let Some(host) = domain.host(e.protocol) else {
            return Ok(None);
        };
        let (tag, kind) = match e.protocol {
            Protocol::Imap => ("incomingServer", "imap"),
            Protocol::Pop3 => ("incomingServer", "pop3"),
            Protocol::Smtp => ("outgoingServer", "smtp"),
        };
        let mut server = BytesStart::new(tag);
        server.push_attribute(("type", kind));
        w.write_event(Event::Start(server))?;
        text_element(&mut w, "hostname", &host.value)?;
        text_element(&mut w, "port", &e.port.value.to_string())?;
        text_element(&mut w, "socketType", e.socket.value.xml())?;
        for a in &e.auth {
            text_element(&mut w, "authentication", a.xml())?;
        }
        text_element(&mut w, "username", e.username.value.xml())?;
        w.write_event(Event::End(BytesEnd::new(tag)))?;
    }
    if let Some(url) = documentation_url {
        let mut doc = BytesStart::new("documentation");
        doc.push_attribute(("url", url));
        w.write_event(Event::Start(doc))?;
        let mut descr = BytesStart::new("descr");
        descr.push_attribute(("lang", "en"));
        w.write_event(Event::Start(descr))?;
        w.write_event(Event::Text(BytesText::new(
            "How to set up your mail account",
        )))?;
        w.write_event(Event::End(BytesEnd::new("descr")))?;
        w.write_event(Event::End(BytesEnd::new("documentation")))?;
    }
    w.write_event(Event::End(BytesEnd::new("emailProvider")))?;
    w.write_event(Event::End(BytesEnd::new("clientConfig")))?;
    let mut out = String::from_utf8(w.into_inner()).unwrap_or_default();
    out.push('\n');
    Ok(Some(out))
}
