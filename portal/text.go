package portal

// texts holds every fixed string of the portal in English and Spanish.
var texts = map[string]map[string]string{
	"en": {
		"langName": "English", "otherLang": "Español", "skip": "Skip to content",
		"statusTitle": "Incident updates", "statusIntro": "What happened, what we are doing and what you can do. We post every update here, newest first.",
		"noUpdates": "There are no incidents to report.", "lastStatus": "Current status", "posted": "Posted",
		"investigating": "Investigating", "identified": "Identified", "contained": "Contained", "resolved": "Resolved",
		"wasI": "Was I affected?", "wasIIntro": "If we sent you a letter, look it up with the notice code printed on it and your date of birth.",
		"lookupTitle": "Was I affected?", "codeLabel": "Notice code (on your letter, like 7K3D-9QMX-2HFA)",
		"dobLegend": "Date of birth", "day": "Day", "month": "Month", "year": "Year", "submit": "Look up my notice",
		"never":       "We will never ask for your Social Security number, bank details or a payment, here or by phone, text or email.",
		"tooMany":     "Too many attempts. Wait ten minutes, then try again, or call us.",
		"badDate":     "Enter your date of birth as day, month and year.",
		"badCode":     "A notice code has 12 letters and digits, like 7K3D-9QMX-2HFA.",
		"notFound":    "We could not find a notice with that code and date of birth. Check both, or call us.",
		"noticeTitle": "Your notice", "yourCode": "Notice code", "leave": "Leave this page",
		"callUs":      "Questions? Call us toll-free at",
		"accessTitle": "Who accessed your record", "accessLink": "See who accessed your record",
		"accessIntro": "Every access to your record is written to a tamper-evident log. This list comes from it, and each line was checked against the log's signed checkpoint.",
		"when":        "When", "who": "Who", "role": "Role", "did": "What they did", "data": "Data", "result": "Result", "ok": "allowed", "refused": "refused",
		"entry": "Log entry", "erasedNote": "(details removed when another person's data was erased)",
		"verified": "Checked: all %d entries are in the log up to its signed checkpoint of %d entries (%s).",
		"pending":  "%d more recent entries will be provable at the next checkpoint.",
		"offline":  "Check it yourself: download your report and the log's public key, then run labtrust-verify --key ledger.vkey my-access-report.json.",
		"download": "Download my report (JSON)", "key": "Download the log's public key",
	},
	"es": {
		"langName": "Español", "otherLang": "English", "skip": "Ir al contenido",
		"statusTitle": "Novedades del incidente", "statusIntro": "Qué pasó, qué estamos haciendo y qué puede hacer usted. Publicamos aquí cada novedad, la más reciente primero.",
		"noUpdates": "No hay incidentes que informar.", "lastStatus": "Estado actual", "posted": "Publicado",
		"investigating": "En investigación", "identified": "Identificado", "contained": "Contenido", "resolved": "Resuelto",
		"wasI": "¿Me afectó?", "wasIIntro": "Si le enviamos una carta, búsquela con el código de aviso impreso en ella y su fecha de nacimiento.",
		"lookupTitle": "¿Me afectó?", "codeLabel": "Código de aviso (en su carta, como 7K3D-9QMX-2HFA)",
		"dobLegend": "Fecha de nacimiento", "day": "Día", "month": "Mes", "year": "Año", "submit": "Buscar mi aviso",
		"never":       "Nunca le pediremos su número de Seguro Social, datos bancarios ni pagos, ni aquí ni por teléfono, mensaje de texto o correo electrónico.",
		"tooMany":     "Demasiados intentos. Espere diez minutos e inténtelo de nuevo, o llámenos.",
		"badDate":     "Escriba su fecha de nacimiento con día, mes y año.",
		"badCode":     "Un código de aviso tiene 12 letras y números, como 7K3D-9QMX-2HFA.",
		"notFound":    "No encontramos un aviso con ese código y esa fecha de nacimiento. Revise ambos o llámenos.",
		"noticeTitle": "Su aviso", "yourCode": "Código de aviso", "leave": "Salir de esta página",
		"callUs":      "¿Preguntas? Llámenos gratis al",
		"accessTitle": "Quién accedió a su expediente", "accessLink": "Ver quién accedió a su expediente",
		"accessIntro": "Cada acceso a su expediente queda escrito en un registro a prueba de alteraciones. Esta lista sale de él, y cada línea se comprobó con el punto de control firmado del registro.",
		"when":        "Cuándo", "who": "Quién", "role": "Función", "did": "Qué hizo", "data": "Datos", "result": "Resultado", "ok": "permitido", "refused": "denegado",
		"entry": "Entrada del registro", "erasedNote": "(detalles eliminados al borrar los datos de otra persona)",
		"verified": "Comprobado: las %d entradas están en el registro hasta su punto de control firmado de %d entradas (%s).",
		"pending":  "%d entradas más recientes se podrán comprobar en el próximo punto de control.",
		"offline":  "Compruébelo usted: descargue su informe y la clave pública del registro, y ejecute labtrust-verify --key ledger.vkey my-access-report.json.",
		"download": "Descargar mi informe (JSON)", "key": "Descargar la clave pública del registro",
	},
}

func text(lang, key string) string {
	if s, ok := texts[lang][key]; ok {
		return s
	}
	return texts["en"][key]
}
