//! Sample companies and documents written once into a newly created database, so an agent has
//! something to find on first run. All names, ids, addresses and figures are fictional.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::error::{DbContext, StoreError};
use super::records;
use super::types::NewCompany;
use super::validate;

/// The `store_meta` key recording that the first-run decision about samples was taken; once
/// present, samples are never written again, even if the user deletes them.
const SAMPLES_KEY: &str = "samples";

struct SampleCompany {
    name: &'static str,
    legal_id: &'static str,
    employees: i64,
    industry: &'static str,
    city: &'static str,
    country: &'static str,
    website: &'static str,
    email: &'static str,
    phone: &'static str,
    description: &'static str,
}

struct SampleDocument {
    title: &'static str,
    body: &'static str,
    company: Option<&'static str>,
    tags: &'static [&'static str],
    date: &'static str,
}

const COMPANIES: &[SampleCompany] = &[
    SampleCompany {
        name: "Empresa X",
        legal_id: "B12345674",
        employees: 100,
        industry: "Tecnología",
        city: "Madrid",
        country: "España",
        website: "https://www.empresa-x.example",
        email: "contacto@empresa-x.example",
        phone: "+34 910 000 100",
        description: "Consultora de software a medida y servicios en la nube para medianas empresas.",
    },
    SampleCompany {
        name: "Empresa Y",
        legal_id: "B87654329",
        employees: 200,
        industry: "Logística",
        city: "Barcelona",
        country: "España",
        website: "https://www.empresa-y.example",
        email: "contacto@empresa-y.example",
        phone: "+34 930 000 200",
        description: "Operador logístico con almacenes en el puerto de Barcelona y transporte por carretera.",
    },
    SampleCompany {
        name: "Panadería La Espiga de Oro S.L.",
        legal_id: "B41000001",
        employees: 18,
        industry: "Alimentación",
        city: "Sevilla",
        country: "España",
        website: "https://espiga-de-oro.example",
        email: "pedidos@espiga-de-oro.example",
        phone: "+34 954 000 018",
        description: "Obrador artesano de pan de masa madre y bollería con cuatro tiendas en Sevilla.",
    },
    SampleCompany {
        name: "Editorial Lumbre",
        legal_id: "B46000012",
        employees: 12,
        industry: "Editorial",
        city: "Valencia",
        country: "España",
        website: "https://editorial-lumbre.example",
        email: "manuscritos@editorial-lumbre.example",
        phone: "+34 963 000 012",
        description: "Editorial independiente de narrativa y ensayo en castellano y valenciano.",
    },
    SampleCompany {
        name: "Construcciones Andinas S.A.C.",
        legal_id: "20123456789",
        employees: 340,
        industry: "Construcción",
        city: "Lima",
        country: "Perú",
        website: "https://construcciones-andinas.example",
        email: "obras@construcciones-andinas.example",
        phone: "+51 1 000 0340",
        description: "Constructora de infraestructura vial y edificios de vivienda en la sierra y la costa.",
    },
    SampleCompany {
        name: "Café del Valle Ltda.",
        legal_id: "900123456-7",
        employees: 55,
        industry: "Agroindustria",
        city: "Medellín",
        country: "Colombia",
        website: "https://cafedelvalle.example",
        email: "ventas@cafedelvalle.example",
        phone: "+57 604 000 0055",
        description: "Cooperativa de café de especialidad que exporta café verde y tostado.",
    },
    SampleCompany {
        name: "Soluciones Médicas del Norte S.A. de C.V.",
        legal_id: "SMN010203AB1",
        employees: 120,
        industry: "Salud",
        city: "Monterrey",
        country: "México",
        website: "https://solucionesmedicas-norte.example",
        email: "contacto@solucionesmedicas-norte.example",
        phone: "+52 81 0000 0120",
        description: "Red de clínicas ambulatorias y servicio de telemedicina en el norte de México.",
    },
    SampleCompany {
        name: "Viña Cordillera Azul SpA",
        legal_id: "76.123.456-0",
        employees: 75,
        industry: "Bebidas",
        city: "Rancagua",
        country: "Chile",
        website: "https://cordillera-azul.example",
        email: "export@cordillera-azul.example",
        phone: "+56 72 000 0075",
        description: "Viña familiar del valle del Cachapoal que produce carmenère y cabernet sauvignon.",
    },
    SampleCompany {
        name: "Energía Solar Atacama S.A.",
        legal_id: "96.555.444-3",
        employees: 60,
        industry: "Energía",
        city: "Antofagasta",
        country: "Chile",
        website: "https://solar-atacama.example",
        email: "operaciones@solar-atacama.example",
        phone: "+56 55 000 0060",
        description: "Operadora de plantas fotovoltaicas en el desierto de Atacama.",
    },
    SampleCompany {
        name: "Textiles Río de la Plata S.R.L.",
        legal_id: "30-71234567-8",
        employees: 230,
        industry: "Textil",
        city: "Buenos Aires",
        country: "Argentina",
        website: "https://textiles-rdlp.example",
        email: "compras@textiles-rdlp.example",
        phone: "+54 11 0000 0230",
        description: "Fabricante de telas de algodón y tejidos técnicos para indumentaria.",
    },
    SampleCompany {
        name: "Fintech Pampa S.A.",
        legal_id: "30-70999888-1",
        employees: 45,
        industry: "Servicios financieros",
        city: "Córdoba",
        country: "Argentina",
        website: "https://fintechpampa.example",
        email: "hola@fintechpampa.example",
        phone: "+54 351 000 0045",
        description: "Billetera digital y créditos para pequeños comercios.",
    },
    SampleCompany {
        name: "Transportes Caribe Express",
        legal_id: "1-31-00000-5",
        employees: 150,
        industry: "Transporte",
        city: "Santo Domingo",
        country: "República Dominicana",
        website: "https://caribe-express.example",
        email: "flota@caribe-express.example",
        phone: "+1 809 000 0150",
        description: "Transporte de carga terrestre y distribución urbana en el Caribe.",
    },
];

const DOCUMENTS: &[SampleDocument] = &[
    SampleDocument {
        title: "Contrato marco de servicios de desarrollo de software",
        body: "Empresa X se compromete a prestar servicios de desarrollo, mantenimiento y soporte de aplicaciones web. \
               El contrato tiene una duración de dos años con renovación automática salvo preaviso de tres meses. \
               Las horas de soporte se facturarán mensualmente según la tarifa del anexo II.",
        company: Some("Empresa X"),
        tags: &["contrato", "software", "servicios"],
        date: "2024-03-01",
    },
    SampleDocument {
        title: "Factura F-2024-0153",
        body: "Factura por 120 horas de consultoría técnica y migración de bases de datos durante abril. \
               Importe total: 9.680,00 EUR, IVA incluido. Forma de pago: transferencia a 30 días.",
        company: Some("Empresa X"),
        tags: &["factura", "consultoría"],
        date: "2024-04-30",
    },
    SampleDocument {
        title: "Acta de reunión del comité de dirección",
        body: "Asistentes: dirección general, operaciones y finanzas. Se aprueba la apertura de un segundo almacén en Zaragoza. \
               Se acuerda revisar las tarifas de transporte con los clientes principales antes de julio. \
               Próxima reunión: primer lunes del mes siguiente.",
        company: Some("Empresa Y"),
        tags: &["acta", "reunión", "dirección"],
        date: "2024-04-15",
    },
    SampleDocument {
        title: "Contrato de transporte y almacenaje",
        body: "Empresa Y prestará servicios de almacenaje, preparación de pedidos y transporte por carretera. \
               Las mercancías viajan aseguradas hasta un valor de 50.000 EUR por envío. \
               Las incidencias deberán comunicarse en un plazo de 48 horas desde la entrega.",
        company: Some("Empresa Y"),
        tags: &["contrato", "logística", "transporte"],
        date: "2023-11-20",
    },
    SampleDocument {
        title: "Ficha de producto: pan de masa madre integral",
        body: "Pan elaborado con harina integral de trigo, masa madre natural, agua y sal. Fermentación lenta de 24 horas. \
               Peso: 800 g. Alérgenos: gluten. Consumo preferente: cuatro días.",
        company: Some("Panadería La Espiga de Oro S.L."),
        tags: &["ficha de producto", "pan"],
        date: "2024-01-10",
    },
    SampleDocument {
        title: "Contrato de edición con autora",
        body: "La autora cede a Editorial Lumbre los derechos de edición en castellano de la novela por un plazo de siete años. \
               Se pacta un anticipo y unos derechos del diez por ciento sobre el precio de venta. \
               La editorial presentará liquidaciones anuales de ventas.",
        company: Some("Editorial Lumbre"),
        tags: &["contrato", "derechos de autor"],
        date: "2023-09-05",
    },
    SampleDocument {
        title: "Política de seguridad y salud en obra",
        body: "Todo el personal debe usar casco, botas y arnés en altura. Antes de cada jornada se realiza una charla de seguridad de cinco minutos. \
               Los accidentes e incidentes se registran el mismo día y se investigan en un plazo de 72 horas.",
        company: Some("Construcciones Andinas S.A.C."),
        tags: &["política", "seguridad"],
        date: "2024-02-01",
    },
    SampleDocument {
        title: "Factura de exportación CV-0087: café verde",
        body: "Exportación de 300 sacos de café verde lavado, variedad Castillo, con destino a Hamburgo. \
               Condiciones FOB Cartagena. Importe: 96.000 USD. Pago mediante carta de crédito.",
        company: Some("Café del Valle Ltda."),
        tags: &["factura", "exportación", "café"],
        date: "2024-05-22",
    },
    SampleDocument {
        title: "Product sheet: Valle Alto specialty coffee",
        body: "Single-origin washed coffee grown at 1,900 metres. Tasting notes: panela, orange and cocoa. \
               Sold in 340 g bags, whole bean or ground. Roasted weekly in Medellín.",
        company: Some("Café del Valle Ltda."),
        tags: &["product sheet", "coffee"],
        date: "2024-03-18",
    },
    SampleDocument {
        title: "Acta de reunión: lanzamiento del servicio de telemedicina",
        body: "Se revisa el calendario de lanzamiento de las videoconsultas. El equipo de sistemas confirma la integración con el expediente clínico. \
               Se acuerda una prueba piloto con tres clínicas durante junio.",
        company: Some("Soluciones Médicas del Norte S.A. de C.V."),
        tags: &["acta", "reunión", "telemedicina"],
        date: "2024-05-08",
    },
    SampleDocument {
        title: "Privacy policy for patient data",
        body: "Patient records are stored encrypted and accessed only by the treating staff. \
               Patients may request a copy or the deletion of their data at any time. \
               Video consultations are never recorded without explicit consent.",
        company: Some("Soluciones Médicas del Norte S.A. de C.V."),
        tags: &["policy", "privacy"],
        date: "2024-01-25",
    },
    SampleDocument {
        title: "Ficha técnica: Carmenère Reserva 2022",
        body: "Vino tinto 100 % carmenère del valle del Cachapoal. Crianza de doce meses en barrica de roble francés. \
               Graduación: 13,5 %. Notas de pimiento asado, ciruela y especias.",
        company: Some("Viña Cordillera Azul SpA"),
        tags: &["ficha de producto", "vino"],
        date: "2023-10-02",
    },
    SampleDocument {
        title: "Informe de mantenimiento de la planta fotovoltaica",
        body: "Durante el trimestre se limpiaron los paneles de los sectores norte y sur. Se sustituyeron dos inversores averiados. \
               La disponibilidad de la planta fue del 98,7 %.",
        company: Some("Energía Solar Atacama S.A."),
        tags: &["informe", "mantenimiento"],
        date: "2024-04-02",
    },
    SampleDocument {
        title: "Purchase agreement for organic cotton",
        body: "The supplier will deliver 40 tonnes of certified organic cotton fibre in four monthly lots. \
               Payment is due 60 days after each delivery. Quality disputes are settled by an independent laboratory.",
        company: Some("Textiles Río de la Plata S.R.L."),
        tags: &["contract", "purchasing"],
        date: "2024-02-14",
    },
    SampleDocument {
        title: "Política de prevención de fraude",
        body: "Toda operación superior a 5.000 USD requiere verificación de identidad reforzada. \
               Las alertas del sistema de monitoreo se revisan en menos de dos horas. \
               El personal recibe formación anual sobre fraude y lavado de activos.",
        company: Some("Fintech Pampa S.A."),
        tags: &["política", "fraude", "cumplimiento"],
        date: "2024-03-11",
    },
    SampleDocument {
        title: "Invoice INV-2024-221: fleet maintenance",
        body: "Preventive maintenance of twelve delivery trucks: oil change, brake inspection and tyre rotation. \
               Total amount: 4,350.00 USD. Payment terms: 30 days.",
        company: Some("Transportes Caribe Express"),
        tags: &["invoice", "maintenance"],
        date: "2024-05-30",
    },
    SampleDocument {
        title: "Política de facturación electrónica",
        body: "Todas las facturas se emiten en formato electrónico y se envían por correo a la dirección de contacto del cliente. \
               Las facturas rectificativas deben referenciar la factura original. \
               Los datos fiscales del cliente se verifican antes de emitir la primera factura.",
        company: None,
        tags: &["política", "facturación"],
        date: "2024-01-02",
    },
    SampleDocument {
        title: "Guía de bienvenida para nuevos empleados",
        body: "Durante la primera semana cada persona tiene asignado un compañero de acogida. \
               La guía explica el horario flexible, las vacaciones, el uso de los equipos y a quién dirigir cada consulta.",
        company: None,
        tags: &["guía", "recursos humanos"],
        date: "2023-12-01",
    },
];

/// Writes the samples into a database that has never been through the first-run decision and
/// holds no data, then records that decision so it is never taken again.
pub(crate) fn seed_new_database(
    connection: &mut Connection,
    seed_samples: bool,
    path: &Path,
) -> Result<(), StoreError> {
    let failed = || format!("could not add the sample data to {}", path.display());
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .with_context(failed)?;
    let decided = transaction
        .query_row(
            "SELECT value FROM store_meta WHERE key = ?1",
            [SAMPLES_KEY],
            |row| row.get::<_, String>(0),
        )
        .optional()
        .with_context(failed)?
        .is_some();
    if decided {
        return Ok(());
    }
    let has_data: bool = transaction
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM companies) OR EXISTS (SELECT 1 FROM documents)",
            [],
            |row| row.get(0),
        )
        .with_context(failed)?;
    let outcome = if seed_samples && !has_data {
        write_samples(&transaction)?;
        "seeded"
    } else {
        "not seeded"
    };
    transaction
        .execute(
            "INSERT INTO store_meta (key, value) VALUES (?1, ?2)",
            [SAMPLES_KEY, outcome],
        )
        .with_context(failed)?;
    transaction.commit().with_context(failed)
}

fn write_samples(connection: &Connection) -> Result<(), StoreError> {
    let failed = || "could not write the sample data".to_owned();
    for sample in COMPANIES {
        let new = NewCompany {
            name: sample.name.to_owned(),
            legal_id: Some(sample.legal_id.to_owned()),
            employees: Some(sample.employees),
            industry: Some(sample.industry.to_owned()),
            city: Some(sample.city.to_owned()),
            country: Some(sample.country.to_owned()),
            website: Some(sample.website.to_owned()),
            email: Some(sample.email.to_owned()),
            phone: Some(sample.phone.to_owned()),
            description: Some(sample.description.to_owned()),
        };
        let record = validate::company(&new).map_err(validate::first_error)?;
        records::insert_company(connection, &record).with_context(failed)?;
    }
    for sample in DOCUMENTS {
        let tags: Vec<String> = sample.tags.iter().map(|tag| (*tag).to_owned()).collect();
        let fields = validate::document_fields(sample.title, sample.body, &tags, Some(sample.date))
            .map_err(validate::first_error)?;
        let company_id = match sample.company {
            Some(name) => records::company_id_by_name(connection, name).with_context(failed)?,
            None => None,
        };
        records::insert_document(connection, &fields, company_id).with_context(failed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_document_names_a_sample_company() {
        for document in DOCUMENTS {
            if let Some(company) = document.company {
                assert!(
                    COMPANIES.iter().any(|sample| sample.name == company),
                    "{company}"
                );
            }
        }
        assert!((10..=12).contains(&COMPANIES.len()));
        assert!((15..=20).contains(&DOCUMENTS.len()));
    }
}
