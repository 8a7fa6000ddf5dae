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
		"callUs": "Questions? Call us toll-free at",
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
		"callUs": "¿Preguntas? Llámenos gratis al",
	},
}

func text(lang, key string) string {
	if s, ok := texts[lang][key]; ok {
		return s
	}
	return texts["en"][key]
}
