//! The dashboard's words, in Spanish and English.

/// Lang is the dashboard's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Español.
    Es,
    /// English.
    En,
}

impl Lang {
    /// code is the BCP 47 tag.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    /// parse reads `es` or `en`.
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "es" => Some(Lang::Es),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// from_accept picks the language an `Accept-Language` header prefers first among the
    /// two, English when it names neither.
    pub fn from_accept(header: &str) -> Lang {
        for part in header.split(',') {
            let tag = part
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if tag.starts_with("es") {
                return Lang::Es;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::En
    }

    /// t is the text for `key` in this language.
    pub fn t(self, key: &str) -> &'static str {
        let (es, en) = match key {
            "title" => (
                "Huella: panel de supervisión",
                "Huella: oversight dashboard",
            ),
            "subtitle" => (
                "Accesos transfronterizos a datos personales, contados desde el registro público. Ningún dato personal aparece aquí.",
                "Cross-border accesses to personal data, counted from the public log. No personal data appears here.",
            ),
            "skip" => ("Saltar al contenido", "Skip to content"),
            "language" => ("Idioma", "Language"),
            "health" => ("Estado del registro", "Log health"),
            "entries_total" => (
                "Entradas en el punto de control",
                "Entries in the checkpoint",
            ),
            "cosigned_at" => (
                "Cofirmado (la cofirma más reciente)",
                "Cosigned (newest cosignature)",
            ),
            "awaiting" => (
                "Entradas publicadas que esperan cofirma",
                "Entries published, awaiting cosignatures",
            ),
            "root" => ("Raíz del árbol", "Tree root"),
            "latest" => (
                "Su última entrada, integrada",
                "Its newest entry, integrated",
            ),
            "ago" => ("hace", "ago"),
            "witnesses" => ("Cofirmas de testigos", "Witness cosignatures"),
            "no_witnesses" => (
                "ninguna: este registro aún no tiene política de testigos",
                "none: this log has no witness policy yet",
            ),
            "witnesses_pending" => (
                "ninguna aún: los testigos no han cosignado un punto de control",
                "none yet: the witnesses have not cosigned a checkpoint",
            ),
            "cosigned_size" => (
                "cosignaron el punto de control de tamaño",
                "cosigned the checkpoint of size",
            ),
            "in_policy" => ("testigos en la política", "witnesses in the policy"),
            "signature" => ("Firma del punto de control", "Checkpoint signature"),
            "sig_unchecked" => (
                "sin comprobar: la comprobación corre en su navegador (JavaScript)",
                "not checked: the check runs in your browser (JavaScript)",
            ),
            "sig_checking" => ("comprobando…", "checking…"),
            "sig_ok" => (
                "válida: comprobada en este navegador con la clave del registro",
                "valid: checked in this browser with the log's key",
            ),
            "sig_bad" => (
                "NO VÁLIDA con la clave del registro",
                "NOT VALID with the log's key",
            ),
            "sig_unsupported" => (
                "sin comprobar: este navegador no verifica Ed25519",
                "not checked: this browser does not verify Ed25519",
            ),
            "log_key" => ("Clave del registro", "Log key"),
            "checkpoint" => ("Punto de control firmado", "Signed checkpoint"),
            "filters" => ("Filtros", "Filters"),
            "requesting_agency" => ("Agencia solicitante", "Requesting agency"),
            "requesting_country" => ("País solicitante", "Requesting country"),
            "holder_agency" => ("Agencia titular", "Holding agency"),
            "holder_country" => ("País titular", "Holding country"),
            "category" => ("Categoría de datos", "Data category"),
            "purpose" => ("Finalidad", "Purpose"),
            "from" => ("Desde (día)", "From (day)"),
            "to" => ("Hasta (día)", "To (day)"),
            "all" => ("Todas", "All"),
            "apply" => ("Aplicar", "Apply"),
            "clear" => ("Quitar filtros", "Clear filters"),
            "summary" => ("Resumen", "Summary"),
            "accesses" => ("Accesos", "Accesses"),
            "hits" => ("Con resultado", "Hits"),
            "hit_rate" => ("Tasa de resultados", "Hit rate"),
            "records" => ("Registros devueltos", "Records returned"),
            "sealed_reads" => ("Lecturas selladas", "Sealed reads"),
            "erasures" => ("Borrados", "Erasures"),
            "charts" => ("Gráficos", "Charts"),
            "chart_pairs" => (
                "Accesos por mes y par de países",
                "Accesses per month by country pair",
            ),
            "chart_category" => (
                "Accesos por categoría de datos",
                "Accesses by data category",
            ),
            "chart_agency" => (
                "Accesos por agencia solicitante",
                "Accesses by requesting agency",
            ),
            "chart_purpose" => ("Accesos por finalidad", "Accesses by purpose"),
            "chart_outcome" => ("Resultados de los accesos", "Outcomes of the accesses"),
            "chart_sealed" => (
                "Lecturas selladas y borrados por mes",
                "Sealed reads and erasures per month",
            ),
            "sealed_note" => (
                "Filtrados por agencia, país y días; la categoría y la finalidad no se aplican a los borrados.",
                "Filtered by agency, country and days; category and purpose do not apply to erasures.",
            ),
            "month" => ("Mes", "Month"),
            "outcome" => ("Resultado", "Outcome"),
            "kind" => ("Tipo", "Kind"),
            "count" => ("Número", "Count"),
            "none_match" => (
                "Nada coincide con estos filtros.",
                "Nothing matches these filters.",
            ),
            "entries" => ("Entradas que coinciden", "Matching entries"),
            "entries_note" => (
                "Las más recientes primero. Cada entrada enlaza a su hoja, su prueba de inclusión y su recibo.",
                "Newest first. Each entry links to its leaf, its inclusion proof and its receipt.",
            ),
            "index" => ("Índice", "Index"),
            "time" => ("Hora del acceso (UTC)", "Access time (UTC)"),
            "who" => ("Quién → de quién", "Who → whose"),
            "proofs" => ("Pruebas", "Proofs"),
            "leaf" => ("hoja", "leaf"),
            "inclusion" => ("inclusión", "inclusion"),
            "receipt" => ("recibo", "receipt"),
            "older" => ("Entradas anteriores →", "Older entries →"),
            "newest" => ("← Más recientes", "← Newest"),
            "bad_filter" => ("Filtro no válido", "Invalid filter"),
            "footer" => (
                "Cualquiera puede recalcular estas cifras desde una copia verificada: huella-verify stats. Contrato de la API:",
                "Anyone can recompute these numbers from a verified copy: huella-verify stats. API contract:",
            ),
            "hit" => ("con resultado", "hit"),
            "no_hit" => ("sin resultado", "no hit"),
            "error" => ("error", "error"),
            "sealed_read" => ("lectura sellada", "sealed read"),
            "erasure" => ("borrado", "erasure"),
            _ => ("?", "?"),
        };
        match self {
            Lang::Es => es,
            Lang::En => en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_first_of_the_two() {
        assert_eq!(Lang::from_accept("es-CO,es;q=0.9,en;q=0.8"), Lang::Es);
        assert_eq!(Lang::from_accept("fr-FR, en-US;q=0.7, es;q=0.5"), Lang::En);
        assert_eq!(Lang::from_accept("de"), Lang::En);
        assert_eq!(Lang::from_accept(""), Lang::En);
    }
}
