# ruff: noqa: RUF001 - Turkish names are written with the dotless i (U+0131).
"""Name pools for the synthetic identity pairs of ``tools.identity_pairs.generator``.

Every name here is a common name of its origin, written as French civil status and
prefectures commonly write it; none describes a real person. A pool entry is one name
and its usual spellings, most common first, with a weight: ``Mohamed|Mohammed|Muhammad:45``
is one name written three ways and drawn 45 times as often as a weight-1 name. Weights
follow the rough frequency of names among foreign residents of each origin, so common
names are common (many Mohamed, Nguyen, Diallo, Yilmaz) and homonyms occur as they do
in real files.

Places are INSEE COG codes: ``99`` and a country number for a birth abroad, a commune
code for a birth in France.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """One name and the ways it is spelled, most common first."""

    spellings: tuple[str, ...]
    weight: int


def pool(text: str) -> tuple[Family, ...]:
    """Families from comma-separated ``Spelling|Other spelling:weight`` entries."""
    families = []
    for raw in text.split(","):
        entry = " ".join(raw.split())
        if not entry:
            continue
        names, _, weight = entry.partition(":")
        families.append(Family(tuple(names.split("|")), int(weight or 1)))
    return tuple(families)


# Births in France (Paris, Marseille, Lyon, Saint-Denis, Lille, Toulouse, Strasbourg, Nice,
# Bordeaux, Bobigny, Argenteuil, Nanterre, Roubaix, Montreuil) and overseas.
METROPOLITAN_PLACES = (
    *("75056", "13055", "69123", "93066", "59350", "31555", "67482", "06088"),
    *("33063", "93008", "95018", "92050", "59512", "93048"),
)
MAYOTTE_PLACES = ("97611", "97610")  # Mamoudzou, Koungou
GUIANA_PLACES = ("97302", "97311")  # Cayenne, Saint-Laurent-du-Maroni
GUADELOUPE_PLACES = ("97101", "97120")  # Les Abymes, Pointe-à-Pitre

# Département of residence: where foreign residents mostly live.
RESIDENCE = (
    *(("93", 12), ("75", 9), ("13", 7), ("69", 6), ("94", 6), ("92", 5), ("95", 5)),
    *(("91", 4), ("59", 4), ("77", 3), ("78", 3), ("31", 3), ("33", 2), ("67", 3)),
    *(("06", 3), ("34", 2), ("44", 2), ("38", 2), ("42", 1), ("57", 2), ("68", 1)),
    *(("76", 1), ("45", 1), ("63", 1), ("21", 1), ("35", 1), ("30", 1), ("83", 1)),
    *(("84", 1), ("2A", 0.3), ("971", 0.5), ("973", 0.5), ("974", 0.5), ("976", 0.5)),
)

# Married names taken by women who married in France.
FRENCH_SURNAMES = pool("""
    Martin:5, Bernard:4, Dubois:4, Thomas:4, Robert:3, Richard:3, Petit:3, Durand:3,
    Leroy:3, Moreau:3, Simon:3, Laurent:3, Lefebvre|Lefèvre:3, Michel:3, Garcia:2,
    David:2, Bertrand:2, Roux:2, Vincent:2, Fournier:2, Morel:2, Girard:2, André:2,
    Mercier:2, Dupont:2, Lambert:2, Bonnet:2, François:2, Martinez:2, Legrand:2,
    Garnier:1, Faure:1, Rousseau:1, Blanc:1, Guérin:1, Muller:1, Henry:1, Roussel:1,
""")


# Names parents give twins, alike on purpose (Hassan and Hussein), with each one's sex.
_ARABIC_TWINS = (
    *(("Hassan", "M", "Hussein", "M"), ("Hacène", "M", "Hocine", "M")),
    *(("Lahcen", "M", "Lhoussaine", "M"), ("Fatima", "F", "Fatiha", "F")),
    *(("Samir", "M", "Samira", "F"), ("Amine", "M", "Amina", "F"), ("Karim", "M", "Karima", "F")),
    *(
        ("Rachid", "M", "Rachida", "F"),
        ("Nabil", "M", "Nabila", "F"),
        ("Farid", "M", "Farida", "F"),
    ),
)
_WEST_AFRICAN_TWINS = (
    *(("Assane", "M", "Ousseynou", "M"), ("Alassane", "M", "Housseini", "M")),
    *(("Hassana", "F", "Housseina", "F"), ("Adama", "M", "Awa", "F")),
)
_FRENCH_TWINS = (
    *(("Jean-Pierre", "M", "Jean-Paul", "M"), ("Marie-Claude", "F", "Marie-Claire", "F")),
    *(("Daniel", "M", "Danielle", "F"), ("Emmanuel", "M", "Emmanuelle", "F")),
    ("Jean", "M", "Jeanne", "F"),
)
_LATIN_TWINS = (
    *(("Daniel", "M", "Daniela", "F"), ("Gabriel", "M", "Gabriela", "F")),
    *(("Paulo", "M", "Paula", "F"), ("Luis", "M", "Luisa", "F")),
)
TWIN_NAMES: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "algeria": _ARABIC_TWINS,
    "morocco": _ARABIC_TWINS,
    "tunisia": _ARABIC_TWINS,
    "middle-east": _ARABIC_TWINS,
    "west-africa": _WEST_AFRICAN_TWINS,
    "ivory-coast": _WEST_AFRICAN_TWINS + _FRENCH_TWINS,
    "central-africa": _FRENCH_TWINS,
    "haiti": _FRENCH_TWINS,
    "comoros": (("Hassani", "M", "Houssaini", "M"), ("Samir", "M", "Samira", "F")),
    "turkey": (("Hasan", "M", "Hüseyin", "M"),),
    "afghanistan": (("Hassan", "M", "Hussain", "M"),),
    "portugal": _LATIN_TWINS,
    "brazil": _LATIN_TWINS,
    "andes": _LATIN_TWINS,
    "romania": (("Daniel", "M", "Daniela", "F"), ("Gabriel", "M", "Gabriela", "F")),
}


@dataclass(frozen=True)
class Origin:
    """Where a synthetic person's names, place of birth and civil-status habits come from."""

    name: str
    weight: float
    countries: tuple[tuple[str, float], ...]
    surnames: tuple[Family, ...]
    male: tuple[Family, ...]
    female: tuple[Family, ...]
    # Women's surnames where they differ (Ivanova, Mint Mohamed).
    female_surnames: tuple[Family, ...] = ()
    # Vietnamese middle names (Van, Thi), written before the given name.
    middle_male: tuple[Family, ...] = ()
    middle_female: tuple[Family, ...] = ()
    first_name_counts: tuple[int, int, int] = (85, 13, 2)  # weights of 1, 2, 3 first names
    two_surnames: float = 0.0  # share with two surnames (da Silva Ferreira, Quispe Mamani)
    kept_surname: int = -1  # which of two surnames a shortened form keeps
    swap_prone: bool = False  # the family name is often written first, so fields swap
    year_only: float = 0.01  # share whose civil status knows the birth year only
    january_first: float = 0.0  # share registered as born on 1 January
    born_in_france: float = 0.02
    french_places: tuple[str, ...] = METROPOLITAN_PLACES
    neighbours: tuple[str, ...] = ()  # other places of birth common for these names
    residence: tuple[tuple[str, float], ...] = RESIDENCE


MAGHREB_MALE = pool("""
    Mohamed|Mohammed|Muhammad|Mohammad|Mouhamed|Mohamad|Mhamed:45, Ahmed|Ahmad:12, Ali:8,
    Karim|Kareem:6, Youssef|Youcef|Yusuf|Yousef|Youssouf:10,
    Abdelkader|Abdel Kader|Abdelkadir|Abdel-Kader|Abdulkadir:6,
    Mustapha|Mustafa|Moustapha|Moustafa|Mostefa:8, Brahim|Ibrahim|Ebrahim:7,
    Hocine|Houcine|Hussein|Hussain|Hossein:5, Rachid|Rashid|Rached:7, Saïd|Said|Saeed:6,
    Khaled|Khalid:6, Omar|Umar|Omer:5, Abdallah|Abdellah|Abdullah|Abdalla:6,
    Nordine|Noureddine|Nour-Eddine|Nourredine|Nourdine:5, Djamel|Jamel|Jamal|Djamal:5,
    Farid:4, Mourad|Murad:5, Samir:5, Nabil:4, Hamza:5, Bilal|Bilel|Billal:5,
    Mehdi|Mahdi|Medhi:5, Amine|Amin|Lamine:6, Reda|Rida|Ridha|Redha:4,
    Yacine|Yassine|Yasin|Yassin|Yacin:6,
    Abderrahmane|Abderrahman|Abdel Rahman|Abderahmane|Abdelrahman:4, Salah|Saleh|Salih:4,
    Kamel|Kamal:5, Tarek|Tariq|Tarik:4, Hassan|Hasan|Hacene|Hassane:5, Hakim:4,
    Zakaria|Zakariya|Zakarya|Zacharia:4, Ayoub|Ayyoub|Ayub:4, Walid|Oualid|Waleed:4,
    Sofiane|Sofian|Soufiane|Soufyane:5, Hicham|Hichem|Hisham:4, Driss|Idriss|Idris:3,
    Abdelaziz|Abdel Aziz|Abdulaziz:3, Lahcen|Lahsen|Lahcene:3,
    Redouane|Redwane|Ridouane|Radouane:3, Toufik|Tawfik|Taoufik|Tewfik:3,
    Ilyes|Ilyas|Elias|Lyes:3, Othmane|Otmane|Othman|Outhmane:3, Hamid:3,
    Messaoud|Massoud:2, Belkacem|Belgacem:2, Mokhtar|Moktar|Mukhtar:2,
    Smaïl|Smail|Ismaïl|Ismail|Ismael:3, Aziz:2, Adel|Adil:3, Anis|Anas|Anass:3,
    Younes|Younès|Younis:3, Nassim|Nacim|Nasim:3, Riad|Riyad|Ryad:2, Farès|Fares|Faris:2,
    Wassim|Wasim|Ouassim:2, Oussama|Ousama|Usama|Oussema:3, Aymen|Ayman|Aimen:2,
    Mounir|Munir:2, Sami|Samy:2,
""")
MAGHREB_FEMALE = pool("""
    Fatima|Fatma|Fatimah|Fatema:20, Aïcha|Aicha|Aisha|Aïsha:10, Khadija|Khadidja|Kadija:8,
    Amina|Aminah:6, Nadia:6, Samira:6, Leïla|Leila|Layla|Laila:6, Malika:6, Zohra|Zahra:5,
    Yamina:5, Naïma|Naima:5, Karima:5, Souad|Suad:4, Meriem|Myriam|Maryam|Meryem|Mariem:7,
    Hafsa:2, Zineb|Zaynab|Zeineb|Zainab|Zeinab:4, Houria|Hourya:3, Nour|Noor|Nur:3,
    Sarah|Sara:5, Imane|Iman|Imen:5, Asmaa|Asma:4, Hind:3, Rachida|Rashida:4,
    Djamila|Jamila|Djemila:4, Ouarda|Warda:2, Siham|Sihem:3, Sanaa|Sana|Sanae:3,
    Khadra:2, Fadila|Fadhila:3, Habiba:3, Hayat:3, Latifa:3, Nawal:3, Dalila:3, Kenza:3,
    Wafa|Ouafa:2, Ikram:2, Chaïma|Chaima|Shaima:3, Yasmina|Yasmine:4, Lina:3, Rania:3,
    Inès|Ines:4, Assia|Asia:2, Lamia:2, Nabila:2, Farida:3, Ghania:2, Saliha:2,
    Mounia|Mounya:2, Hanane|Hanan:3, Bouchra|Bushra:3, Loubna|Lubna:2,
""")

ALGERIA = Origin(
    name="algeria",
    weight=13,
    countries=(("99352", 1),),
    surnames=pool("""
        Saidi|Saïdi:5, Ben Ali:5, Mansouri:4, Belkacem:3, Brahimi:4, Hamidi:4, Haddad:4,
        Cherif|Chérif:4, Boudiaf:2, Meziane:3, Bouzid:3, Khelifi|Khalifi:3, Zerrouki:2,
        Ben Moussa:2, Rahmani:3, Slimani:3, Ben Said:2, Larbi:2, Belaïd|Belaid:3,
        Bouaziz:3, Ferhat:2, Kaddour|Kadour:2, Laribi:2, Lounès|Lounes:2, Mebarki|Mbarki:2,
        Messaoudi|Massaoudi:3, Ouali:2, Saâdi|Saadi:2, Taleb:2, Touati:2,
        Yahiaoui|Yahyaoui:2, Ziani:2, Ben Amar:2, Ben Yahia|Ben Yahya:2, Ait Ahmed:3,
        Ait Ali:2, Boukhari|Bokhari:2, Chaouch|Chaouche:2, Hamdi:2, Amara:3, Aouadi:2,
        Ben Salem:2, Bouchenafa:1, Benchikh|Ben Chikh:1, Kaci:2, Hadjadj:1, Mokrani:2,
    """),
    male=MAGHREB_MALE,
    female=MAGHREB_FEMALE,
    first_name_counts=(70, 25, 5),
    year_only=0.04,
    born_in_france=0.06,
    neighbours=("99350", "99351", "99336", "13055", "69123"),
)
MOROCCO = Origin(
    name="morocco",
    weight=11,
    countries=(("99350", 1),),
    surnames=pool("""
        El Amrani:4, El Idrissi|El Idrissy:4, El Alaoui:4, Bennani:3, Tazi:2, Berrada:2,
        Ben Jelloun:3, El Fassi:2, Chraïbi|Chraibi:2, Lahlou:2, Ouazzani|Wazzani:2,
        Bouazza:2, Amrani:2, Belhaj|Belhadj:3, Hajji|Hadji:2, Ait Said:2, Naciri|Nasiri:2,
        Saidi:3, Bakkali|Bekkali:3, Ziani:2, Mansouri:3, El Moussaoui:3, Boutaleb:2,
        Kabbaj:2, Haddou:2, Azzouzi|Azouzi:2, Ben Ali:2, El Khattabi:2, Zaoui:2, Chaoui:2,
        Fikri:2, Rachidi:2, El Ouardi:2, Ben Moussa:2, Ben Abdallah:2, El Hamdaoui:2,
        Tahiri:2, Lamrani:2, Ait Benhaddou:1, Ouahbi:1, Bouhaddou:1, Kharbouch:1,
    """),
    male=MAGHREB_MALE,
    female=MAGHREB_FEMALE,
    first_name_counts=(70, 25, 5),
    year_only=0.03,
    born_in_france=0.05,
    neighbours=("99352", "99351", "99134", "99131", "75056"),
)
TUNISIA = Origin(
    name="tunisia",
    weight=6,
    countries=(("99351", 1),),
    surnames=pool("""
        Trabelsi:5, Ben Salah:4, Ben Ali:3, Jaziri:2, Gharbi:3, Hammami|Hamami:3, Ayari:3,
        Mejri:2, Dridi:3, Bouazizi:2, Chaabane|Chabane|Chaâbane:2, Ben Salem:3,
        Ben Ammar|Ben Amar:2, Ben Youssef:2, Ben Hassine|Ben Hassen:2, Ben Said:2,
        Jlassi|Jelassi:3, Mabrouk:2, Zouari:2, Hamdi:2, Khelifi|Khlifi:2, Sassi:2,
        Mansour:2, Chebbi:2, Karoui:2, Ferchichi:2, Slimi:2, Mathlouthi|Matlouthi:2,
        Nasri:2, Ghanmi:2, Riahi:2, Saidi:2, Abidi:2, Bouzid:2, Masmoudi:2,
    """),
    male=MAGHREB_MALE,
    female=MAGHREB_FEMALE,
    first_name_counts=(70, 25, 5),
    born_in_france=0.05,
    neighbours=("99352", "99350", "99316", "99127"),
)
MAURITANIA = Origin(
    name="mauritania",
    weight=1,
    countries=(("99336", 1),),
    surnames=pool("""
        Ould Mohamed:4, Ould Ahmed:3, Ould Sidi:2, Ould Cheikh:2, Ould Abdallahi:2,
        Ould Brahim:2, Ould Salem:2, Ould Mohamed Lemine:1, Ould Ely:1, Diallo:2, Ba:2,
        Sy:1, Kane:2, Sow:1, Camara:1, Wane:1,
    """),
    female_surnames=pool("""
        Mint Mohamed:4, Mint Ahmed:3, Mint Sidi:2, Mint Cheikh:2, Mint Abdallahi:2,
        Mint Brahim:2, Mint Salem:2, Diallo:2, Ba:2, Sy:1, Kane:2, Sow:1, Camara:1,
    """),
    male=pool("""
        Mohamed|Mohammed:8, Ahmed|Ahmedou|Ahmad:4, Sidi|Sidy:3, Cheikh|Cheikhna|Sheikh:3,
        Mohamed Lemine|Mohamed Lamine|Mohamedlemine:2, Abdallahi|Abdellahi|Abdallah:2,
        Brahim|Ibrahim:2, Moussa:2, Mamadou:2, Oumar:2, Sidi Mohamed|Sidimohamed:2,
        El Hacen|El Hassen|Elhacen:1, Yahya|Yahia:2, Isselmou:1, Mokhtar|Moctar:2,
    """),
    female=pool("""
        Fatimetou|Fatimatou|Fatma:3, Mariem|Mariam:3, Aichetou|Aïchetou|Aicha:3,
        Khadijetou|Khadijatou|Khadija:2, Aminetou|Aminata:2, Zeinabou|Zeinab|Zeynabou:2,
        Mounina:1, Salka:1, Toutou:1, Oumou:2, Hawa|Awa:2, Coumba:1, Lalla:1, Maimouna:1,
    """),
    first_name_counts=(75, 25, 0),
    year_only=0.12,
    neighbours=("99341", "99335", "99350"),
)
WEST_AFRICA = Origin(
    name="west-africa",
    weight=12,
    countries=(("99341", 3), ("99335", 4), ("99330", 3), ("99331", 1)),
    surnames=pool("""
        Diallo:10, Traoré|Traore:8, Camara|Kamara:6, Diop:5, Ndiaye|N'Diaye|N Diaye|Diaye:5,
        Sow:4, Ba|Bah:4, Barry|Bary:4, Fall:3, Sy:3, Cissé|Cisse|Sissé:5, Koné|Kone:5,
        Coulibaly|Koulibaly|Kulibali:7, Diarra|Diara:5, Keïta|Keita|Keyta:5, Touré|Toure:5,
        Sylla|Silla:3, Konaté|Konate:3, Sissoko|Sisoko:3, Dembélé|Dembele:3,
        Sangaré|Sangare:3, Doumbia|Dumbia:3, Fofana:4, Kanté|Kante:3, Soumaré|Soumare:2,
        Tandia:1, Dramé|Drame:2, Gueye|Guèye|Gaye:4, Faye:3, Sarr|Sar:3, Mbaye|M'Baye|Baye:3,
        Seck|Sek:2, Thiam|Tiam:2, Sidibé|Sidibe:3, Diakité|Diakite:3, Dia:2,
        Samaké|Samake:2, Tounkara:2, Magassa:2, Baldé|Balde:3, Condé|Conde:3,
        Soumah|Souma:2, Bangoura|Bangura:3, Sacko|Sako:2, Niang:2, Ouédraogo|Ouedraogo:3,
        Sawadogo:2, Kaboré|Kabore:2, Diawara:2,
    """),
    male=pool("""
        Mamadou|Mamadu|Mammadou|Mamoudou:12, Moussa|Musa|Mousa:8, Ibrahima|Ibrahim|Brahima:7,
        Abdoulaye|Abdoulay|Abdulaye|Abdoulahi:7, Ousmane|Usman|Ousman|Oussman|Usmane:7,
        Amadou|Ahmadou|Hamadou|Amadu:6, Souleymane|Sulaymane|Souleyman|Suleiman:5,
        Mohamed|Mohammed|Mouhamed|Mouhamadou:8, Boubacar|Aboubacar|Boubakar|Aboubakar:6,
        Seydou|Seidou:4, Issa|Issah:4, Adama:5, Lamine|Lamin:4, Cheikh|Cheick|Cheik:4,
        Modou|Moudou:3, Oumar|Omar|Umar:5, Bakary|Bakari|Backary:4, Sékou|Sekou:4,
        Daouda|Dawda:3, Alassane|Alhassane|Hassane:4, Yacouba|Yakouba|Yacuba:3, Siaka:2,
        Idrissa|Drissa:3, Mahamadou|Mahamoudou:3, Alpha:3, Thierno|Tierno:3,
        Aliou|Alioune|Aly:4, Babacar|Babakar:3, Ismaïla|Ismaila:3, Djibril|Jibril:3,
        Samba:2, Demba:2, Karamoko:2, Fousseyni|Fousseny:2, Mamady|Mamadi:3,
        Lansana:2, Sidiki:2, Habib:2,
    """),
    female=pool("""
        Fatoumata|Fatimata|Fatumata|Fatoumatou:10, Aminata|Aminatou|Aminatta:8,
        Mariam|Mariama|Maryam|Mariame:7, Kadiatou|Kadidiatou|Khadijatou|Kadiatu:6,
        Aïssatou|Aissatou|Aïssata|Aissata:6, Awa|Hawa:5, Rokia|Rokiatou|Rokhaya:4, Oumou:3,
        Djénéba|Djeneba|Dieneba|Jeneba:4, Assa:2, Ramata:3, Bintou|Binta|Bineta:4,
        Nafissatou|Nafissa:3, Fanta:3, Salimata|Salamata:2, Mariétou|Marietou:2,
        Ndeye|Ndèye|N'Deye:4, Astou|Asta:3, Coumba|Kumba:3, Hadja:2, Sira:2, Sokhna|Sokna:2,
        Khady|Khadi:2, Adja:2, Maïmouna|Maimouna|Maymuna:3, Safiatou:2, Korotoumou:2,
        Penda:2,
    """),
    first_name_counts=(60, 33, 7),
    swap_prone=True,
    year_only=0.08,
    january_first=0.04,
    born_in_france=0.03,
    neighbours=("99341", "99335", "99330", "99326", "99336", "99337"),
)
IVORY_COAST = Origin(
    name="ivory-coast",
    weight=5,
    countries=(("99326", 1),),
    surnames=pool("""
        Kouassi:5, Koné|Kone:5, Yao:4, Konan:4, Kouamé|Kouame:4, N'Guessan|Nguessan:4,
        Kouadio:4, Koffi|Kofi:4, Ouattara|Ouatara|Wattara:5, Bamba:3, Coulibaly:4,
        Touré|Toure:3, Traoré|Traore:3, Diomandé|Diomande:2, Soro:2, Yéo|Yeo:2, Aka:2,
        Brou:2, Kra:2, Assi:2, Amani:2, Kacou|Kakou:2, Doumbia:2, Fofana:2, Dosso:2,
        Cissé|Cisse:2, Zadi:1, Boni:1, Diabaté|Diabate:2,
    """),
    male=pool("""
        Kouadio:3, Koffi|Kofi:3, Yao:3, Konan:3, Kouassi:3, Jean:4,
        Jean-Baptiste|Jean Baptiste:2, Jean-Claude|Jean Claude:2, Serge:3, Hervé|Herve:2,
        Didier:2, Emmanuel:3, Patrick:2, Christian:2, Franck|Frank:2, Arnaud:2,
        Yannick|Yanick:2, Désiré|Desire:2, Aristide:2, Mohamed|Mohammed:5, Moussa:3,
        Seydou|Seidou:3, Souleymane|Souleyman:3, Ibrahim|Brahima|Ibrahima:3, Adama:3,
        Lassina|Lacina:2, Siaka:2, Abou:2, Drissa|Idrissa:2, Bakary|Bakari:2, Karim:2,
        Mamadou:3, Ismaël|Ismael:2, Armel:2, Guy:2, Wilfried|Wilfrid:2, Cédric|Cedric:2,
    """),
    female=pool("""
        Aya:3, Adjoua|Adjua:3, Affoué|Affoue:2, Akissi:2, Amenan:2, Amoin:2, Ahou:2,
        Marie:4, Marie-Laure|Marie Laure:2, Christelle|Cristelle:3, Sandrine:2,
        Nadège|Nadege:2, Esther:2, Grâce|Grace:3, Estelle:2, Josiane:2, Mireille:2,
        Bintou|Binta:2, Fatoumata|Fatimata:3, Mariam|Mariama:3, Awa|Hawa:2,
        Aminata|Aminatou:3, Salimata:2, Aïcha|Aicha:2, Prisca:2, Murielle|Muriel:2,
        Carine|Karine:2, Rachelle|Rachel:2, Angèle|Angele:1,
    """),
    first_name_counts=(45, 45, 10),
    swap_prone=True,
    year_only=0.06,
    january_first=0.03,
    neighbours=("99331", "99335", "99329", "99330"),
)
CENTRAL_AFRICA = Origin(
    name="central-africa",
    weight=6,
    countries=(("99312", 5), ("99322", 4), ("99324", 3), ("99328", 1), ("99323", 1)),
    surnames=pool("""
        Mukendi:3, Kabongo:3, Ilunga|Ilounga:3, Tshibangu:2, Tshimanga:2, Mbuyi:2,
        Kalala:2, Lukusa:2, Mutombo|Moutombo:3, Nsimba:2, Makiese|Makiesse:2, Mbala:2,
        Kasongo|Kassongo:3, Kalonji|Kalondji:2, Ngoy|Ngoie:2, Mbemba:2, Kabeya:2,
        Mulumba|Moulumba:2, Matondo:2, Mbarga:2, Ngono:2, Fotso:2, Kamga:2,
        Essomba|Esomba:2, Atangana:2, Mballa:2, Nana:2, Fouda:2, Manga:2, Owona:2,
        Talla:2, Kenfack:2, Ndongo|N'Dongo:2, Nguema:1, Mboumba:1, Makaya:1,
        Mabiala:2, Massamba|Masamba:2, Malonga:2, Nkounkou|Nkunku:2, Bakala:1,
    """),
    male=pool("""
        Jean:5, Jean-Pierre|Jean Pierre:3, Jean-Paul|Jean Paul:2, Joseph:4, Patrick:3,
        Christian:3, Emmanuel:3, Serge:3, Blaise:2, Guy:2, Alain:2, Pierre:2, Paul:2,
        Samuel:2, Daniel:2, David:2, Jonathan:2, Junior:2, Cédric|Cedric:2, Landry:2,
        Hervé|Herve:2, Rodrigue:2, Arsène|Arsene:2, Fabrice:2, Thierry:2,
        Dieudonné|Dieudonne:3, Bienvenu:2, Trésor|Tresor:3, Glody:2, Héritier|Heritier:2,
        Gloire:2, Jérémie|Jeremie:2, Prince:2, Didier:2, Olivier:2, Michel:2, Achille:1,
    """),
    female=pool("""
        Marie:5, Grâce|Grace:4, Merveille:3, Esther:3, Ruth:2, Rachel|Rachelle:2,
        Sarah|Sara:3, Christelle:3, Chantal:2, Josiane:2, Mireille:2, Jeanne:2,
        Françoise|Francoise:2, Brigitte:2, Nadège|Nadege:2, Patience:2, Divine:2,
        Naomie|Naomi:2, Deborah|Débora|Debora:2, Nicole:2, Clarisse:2, Sandrine:2,
        Joëlle|Joelle:2, Arlette:1, Bénédicte|Benedicte:1, Ornella:1, Exaucée|Exaucee:1,
    """),
    first_name_counts=(45, 45, 10),
    two_surnames=0.25,  # nom and postnom
    kept_surname=0,
    swap_prone=True,
    year_only=0.04,
    neighbours=("99312", "99324", "99322", "99395"),
)
COMOROS = Origin(
    name="comoros",
    weight=3,
    countries=(("99397", 1),),
    surnames=pool("""
        Said|Saïd:5, Ahmed|Ahamed:4, Ali:4, Mohamed|Mohamadi:4, Abdou:4,
        Soilihi|Soilih:3, Attoumani|Athoumani|Atoumani:3, Madi|Mady:3, Mzé|Mze:2,
        Youssouf|Yousouf:3, Ibrahim:3, Houmadi|Hamadi:3, Abdallah|Abdallahi:3, Boina:2,
        Combo:2, Ahamada:3, Msa|M'sa:2, Assani|Hassani:3, Djae:2, Chanfi:2, Halidi:2,
        Moussa:2, Bacar|Bakar:3, Daoud|Daoudou:2, Mmadi|M'Madi:2, Anli:2,
    """),
    male=pool("""
        Said|Saïd:4, Ahmed|Ahamed:4, Ali:4, Mohamed|Mohammed|Mouhamadi:6, Abdou:3,
        Ibrahim:3, Youssouf|Yousouf:3, Nassur|Nassuri:2, Anli:2, Bacar|Bakar:2,
        Ahamada|Hamada:2, Houssaini|Houssainy:2, Kamal|Kamaldine:2, Abdallah:3,
        Soilihi:2, Fahardine|Fahar-Dine:2, Nourdine:2, Zaidou|Zaïdou:2,
        Chamsidine|Chamsoudine:2, Djamal|Djamel:2, Ismaël|Ismael:2, Moussa:2, Rachidi:2,
        Anziz:2, Mahamoud|Mahmoud:2,
    """),
    female=pool("""
        Fatima|Fatouma:4, Zaharia|Zahara:2, Mariama|Mariam:3, Hadidja|Hadija|Khadija:3,
        Moina|Moïna:2, Zalia:2, Faouzia|Fawzia:2, Zainaba|Zaïnaba|Zeinaba:3,
        Amina|Aminati:3, Rahamatou|Rahmata:2, Nassima:2, Naïma|Naima:2,
        Halima|Halimata:3, Sittou|Sitti:2, Maoulida:2, Soifia:2, Roukia|Rokia:2,
    """),
    first_name_counts=(75, 22, 3),
    swap_prone=True,
    year_only=0.1,
    born_in_france=0.2,
    french_places=MAYOTTE_PLACES,
    neighbours=("97611", "99333", "99397"),
    residence=(("976", 45), ("13", 20), ("93", 5), ("75", 3), ("69", 2), ("974", 4)),
)
TURKEY = Origin(
    name="turkey",
    weight=5,
    countries=(("99208", 1),),
    surnames=pool("""
        Yılmaz|Yilmaz:10, Kaya:7, Demir:7, Şahin|Sahin:6, Çelik|Celik:6, Yıldız|Yildiz:5,
        Yıldırım|Yildirim:5, Öztürk|Ozturk|Oeztuerk:5, Aydın|Aydin:5, Özdemir|Ozdemir:5,
        Arslan:4, Doğan|Dogan:5, Kılıç|Kilic:4, Aslan:3, Çetin|Cetin:3, Kara:3, Koç|Koc:3,
        Kurt:3, Özkan|Ozkan:3, Şimşek|Simsek:3, Polat:3, Erdoğan|Erdogan:3, Güler|Guler:2,
        Yavuz:2, Aksoy:2, Kaplan:3, Ateş|Ates:2, Aktaş|Aktas:2, Bulut:2, Keskin:2,
        Tekin:2, Avcı|Avci:2, Ünal|Unal:2, Acar:2, Karaca:2, Güneş|Gunes:2, Uçar|Ucar:2,
        Bozkurt:2, Turan:2, Erdem:2, Altın|Altin|Altun:2, Coşkun|Coskun:2, Sarı|Sari:2,
    """),
    male=pool("""
        Mehmet|Mehmed|Muhammet:10, Mustafa|Moustafa:7, Ahmet|Ahmed:6, Ali:6,
        Hüseyin|Huseyin|Hussein:5, Hasan|Hassan:5, İbrahim|Ibrahim:4, İsmail|Ismail:4,
        Osman:4, Yusuf:4, Murat|Murad:5, Ömer|Omer:4, Ramazan:3, Halil:3,
        Süleyman|Suleyman:3, Abdullah:3, Mahmut|Mahmud:3, Recep|Redjep:2, Fatih:2, Emre:3,
        Kadir:2, Serkan:2, Burak:2, Hakan:3, Cem:2, Erkan:2, Volkan:2, Kemal:2,
        Yasin|Yassine:2, Enes:2, Ercan:2, Kenan:2, Orhan:2, Selim:2, Metin:2, Hamza:2,
        Sinan:1, Mesut:1, Cengiz:1, Levent:1, Mücahit|Mucahit:1,
    """),
    female=pool("""
        Fatma:8, Ayşe|Ayse:8, Emine:6, Hatice|Hatidje:5, Zeynep|Zeinep:5, Elif:4,
        Meryem|Meriem:4, Şerife|Serife:3, Zehra:3, Sultan:3, Hanife:3, Hacer|Hadjer:2,
        Merve:3, Özlem|Ozlem:2, Esra:3, Büşra|Busra:3, Derya:2, Gülsüm|Gulsum:2,
        Songül|Songul:2, Hülya|Hulya:2, Nurcan:2, Sevgi:2, Gül|Gul:2, Yasemin:2,
        Kübra|Kubra:2, Sibel:2, Leyla:2, Melek:2, Dilek:2, Havva:2, Aynur:2, Filiz:1,
    """),
    first_name_counts=(75, 23, 2),
    born_in_france=0.05,
    neighbours=("99109", "99131", "99135", "67482"),
)
CHINA = Origin(
    name="china",
    weight=3,
    countries=(("99216", 1),),
    surnames=pool("""
        Wang:10, Li:10, Zhang|Tchang:9, Liu:8, Chen|Tchen:9, Yang:6, Huang:5, Zhao:4,
        Wu:5, Zhou|Tcheou|Chou:5, Xu|Hsu:4, Sun:3, Ma:3, Zhu|Chu:3, Hu:3, Guo|Kuo:2,
        Lin:7, He:2, Gao:2, Zheng|Cheng:5, Ye|Yeh:4, Pan:2, Jin:2, Dong:2, Xie:2,
        Luo:2, Cai|Tsai:2, Lu:2, Song:1, Peng:1,
    """),
    male=pool("""
        Wei:5, Jun:3, Lei:3, Qiang:2, Jie:3, Tao:2, Hao:2, Yong:2, Chao:2, Bin:2, Gang:2,
        Ming:3, Xiaoming|Xiao Ming|Xiao-Ming:3, Jianguo|Jian Guo|Jian-Guo:2,
        Jianhua|Jian Hua:2, Guoqiang|Guo Qiang:2, Zhiwei|Zhi Wei:2, Haitao|Hai Tao:2,
        Weiming|Wei Ming:2, Jianping|Jian Ping:2, Xiaolong|Xiao Long:2, Feng:2,
        Junjie|Jun Jie:1, Haibo|Hai Bo:1, Zhenyu|Zhen Yu:1, Kai:1, Long:1,
    """),
    female=pool("""
        Fang:4, Min:3, Jing:4, Li:3, Yan:3, Hui:3, Ying:3, Xiaohong|Xiao Hong|Xiao-Hong:2,
        Lihua|Li Hua:2, Meiling|Mei Ling|Mei-Ling:2, Hongmei|Hong Mei:2,
        Haiyan|Hai Yan:2, Xiuying|Xiu Ying:2, Yulan|Yu Lan:1, Xiaoli|Xiao Li:2,
        Lina|Li Na:2, Juan:2, Ping:2, Qing:2, Na:2, Xia:2, Lan:2, Mei:2,
        Xiaoyan|Xiao Yan:2, Wenjing|Wen Jing:1,
    """),
    first_name_counts=(100, 0, 0),
    swap_prone=True,
    year_only=0.0,
    born_in_france=0.03,
    neighbours=("99230", "99236", "99243", "75056"),
)
VIETNAM = Origin(
    name="vietnam",
    weight=1.5,
    countries=(("99243", 1),),
    surnames=pool("""
        Nguyễn|Nguyen|Nguyên:38, Trần|Tran:11, Lê|Le:9, Phạm|Pham:7, Hoàng|Hoang:5,
        Huỳnh|Huynh:5, Phan:4, Vũ|Vu:4, Võ|Vo:3, Đặng|Dang:2, Bùi|Bui:2, Đỗ|Do:2, Hồ|Ho:2,
        Ngô|Ngo:2, Dương|Duong:2, Lý|Ly:1, Trương|Truong:2, Đinh|Dinh:1, Lâm|Lam:1, Mai:1,
    """),
    middle_male=pool("Văn|Van:10, Đức|Duc:3, Minh:2, Quốc|Quoc:2, Hữu|Huu:2, Thanh:2"),
    middle_female=pool("Thị|Thi:12, Ngọc|Ngoc:3, Thu:2, Thanh:2, Kim:2, Mỹ|My:1"),
    male=pool("""
        Minh:4, Hùng|Hung:4, Tuấn|Tuan:4, Dũng|Dung:3, Hải|Hai:3, Long:3, Nam:3,
        Sơn|Son:3, Quang:3, Thắng|Thang:2, Cường|Cuong:3, Phúc|Phuc:2, Khoa:2, Huy:3,
        Bảo|Bao:2, Trung:2, Hiếu|Hieu:2, Tâm|Tam:2, Vinh:2, Khánh|Khanh:2, Phong:2,
        Việt|Viet:2, Đạt|Dat:2,
    """),
    female=pool("""
        Lan:4, Mai:4, Hương|Huong:4, Linh:4, Trang:4, Thảo|Thao:3, Hạnh|Hanh:3,
        Thúy|Thuy:3, Phương|Phuong:3, Hiền|Hien:3, Anh:3, Hoa:3, Hằng|Hang:3, Nga:2,
        Yến|Yen:2, Loan:2, Nhung:2, Hà|Ha:2, Quỳnh|Quynh:2, Nhi:2, Vy|Vi:2,
    """),
    first_name_counts=(100, 0, 0),
    swap_prone=True,
    year_only=0.02,
    neighbours=("99234", "99241", "99216"),
)
ROMANIA = Origin(
    name="romania",
    weight=2,
    countries=(("99114", 5), ("99151", 1)),
    surnames=pool("""
        Popescu:6, Popa:6, Pop:4, Ionescu:4, Radu:4, Dumitru:4, Stan:3, Stoica:3,
        Gheorghe:3, Matei:3, Constantin:3, Rusu:3, Munteanu:3, Lungu:2, Ciobanu:3,
        Ștefan|Stefan|Ştefan:2, Marin:2, Florea:2, Ene:2, Dinu:2, Tudor:2, Mocanu:2,
        Moldovan:2, Barbu:2, Nistor:2, Oprea:2, Vasile:2, Diaconu:2, Dobre:2,
        Țurcanu|Turcanu|Ţurcanu:1, Stănescu|Stanescu:2, Neagu:2, Lazăr|Lazar:2, Sandu:2,
        Dumitrescu:2, Anghel:2, Preda:2, Dragomir:2, Căldăraru|Caldararu:1,
    """),
    male=pool("""
        Ion|Ioan:6, Gheorghe:5, Constantin:5, Vasile:4, Nicolae|Nicolai:4, Alexandru:4,
        Mihai|Mihail:5, Andrei:4, Florin:3, Marius:3, Adrian:3, Daniel:3,
        Ionuț|Ionut|Ionuţ:3, Cristian:3, Ștefan|Stefan|Ştefan:3, Dumitru:3, Gabriel:3,
        Bogdan:2, Cătălin|Catalin:2, Costel:2, Petru|Petre:2, Iulian:2, Valentin:2,
        Sorin:2, Liviu:2, Claudiu:2, Răzvan|Razvan:2, Vlad:2, Ciprian:2, Viorel:2,
        Lucian:2, Marian:2,
    """),
    female=pool("""
        Maria:8, Elena:6, Ioana:5, Ana:4, Mihaela:4, Andreea|Andrea:4, Florentina:2,
        Gabriela:3, Alina:3, Cristina:3, Daniela:3, Georgiana:2, Nicoleta:2, Ionela:2,
        Adriana:2, Simona:2, Raluca:2, Roxana:2, Ramona:2, Diana:2, Larisa|Larissa:2,
        Florica:2, Mariana:2, Viorica:2, Alexandra:2, Oana:2, Luminița|Luminita:1,
    """),
    first_name_counts=(80, 18, 2),
    neighbours=("99151", "99111", "99112", "99127"),
)
UKRAINE = Origin(
    name="ukraine",
    weight=2,
    countries=(("99155", 1),),
    surnames=pool("""
        Shevchenko|Chevtchenko|Schewtschenko:5, Kovalenko:4, Bondarenko:4,
        Tkachenko|Tkatchenko:3, Kravchenko|Kravtchenko:3, Melnyk|Melnik:4, Boyko|Boiko:3,
        Kovalchuk|Kovaltchouk:3, Oliynyk|Oliinyk|Oleinik:2, Shevchuk|Chevtchouk:2,
        Polishchuk|Polichtchouk:2, Lysenko|Lyssenko:2, Marchenko|Martchenko:2, Rudenko:2,
        Savchenko|Savtchenko:2, Petrenko:2, Moroz:2, Pavlenko:2, Klymenko|Klimenko:2,
        Kharchenko|Khartchenko:2, Ponomarenko:2, Tkachuk|Tkatchouk:2,
        Hrytsenko|Gritsenko:1, Sydorenko|Sidorenko:1, Kostenko:1,
    """),
    male=pool("""
        Oleksandr|Alexandr|Aleksandr|Alexandre|Olexandr:8,
        Andriy|Andrii|Andrei|Andrey:5, Serhiy|Serhii|Sergiy|Sergei|Serguei:5,
        Dmytro|Dmitro|Dmitri|Dmitriy:5, Volodymyr|Vladimir|Volodimir:4,
        Mykola|Nikolai|Mikola:4, Vasyl|Vasily|Vassili:3, Ivan:4, Yuriy|Yuri|Iouri|Yurii:3,
        Oleh|Oleg:3, Ihor|Igor:3, Maksym|Maxim|Maksim:4, Viktor|Victor:3, Petro|Piotr:2,
        Mykhailo|Mikhail|Mykhaylo:3, Oleksiy|Oleksii|Alexei|Aleksei:3, Bohdan|Bogdan:3,
        Taras:2, Roman:3, Yaroslav|Iaroslav:2, Vitaliy|Vitalii|Vitali:2,
        Artem|Artiom|Artyom:3, Denys|Denis:3, Pavlo|Pavel:2, Vadym|Vadim:2,
        Yevhen|Ievgen|Yevgeniy|Evgueni:3, Ruslan:2,
    """),
    female=pool("""
        Olena|Elena|Helena|Yelena:5, Nataliia|Natalia|Natalya:5, Tetiana|Tatiana|Tetyana:5,
        Iryna|Irina:5, Svitlana|Svetlana:4, Oksana:4, Yuliia|Yulia|Ioulia|Iuliia:4,
        Olha|Olga:4, Hanna|Anna|Ganna:3, Mariia|Maria|Mariya:3,
        Kateryna|Ekaterina|Katerina:3, Anastasiia|Anastasia|Anastassia:3,
        Viktoriia|Viktoria|Victoria:3, Liudmyla|Lyudmila|Ludmila|Lioudmila:3,
        Valentyna|Valentina:2, Halyna|Galina:2, Larysa|Larisa:2, Inna:2, Alla:2,
        Nadiia|Nadia|Nadiya:2, Khrystyna|Kristina:2, Daria|Dariia:2, Alina:2,
        Sofiia|Sofia:2,
    """),
    first_name_counts=(92, 8, 0),
    neighbours=("99123", "99151", "99148", "99122"),
)
RUSSIA = Origin(
    name="russia",
    weight=2,
    countries=(("99123", 1),),
    surnames=pool("""
        Ivanov|Ivanoff:5, Smirnov|Smirnoff:4, Kuznetsov|Kouznetsov:4, Popov|Popoff:3,
        Vasilyev|Vasiliev|Vassiliev:3, Petrov|Petroff:3, Sokolov:3, Mikhailov|Mikhaylov:2,
        Novikov:2, Fedorov|Fiodorov|Fyodorov:2, Morozov:2, Volkov:2, Alekseev|Alexeev:2,
        Lebedev:2, Semenov|Semionov|Semyonov:2, Egorov|Yegorov|Iegorov:2, Pavlov:2,
        Kozlov:2, Stepanov:2, Nikolaev:2, Andreev|Andreyev:2, Kadyrov|Kadirov:2,
        Magomedov:3, Umarov|Oumarov:2, Musaev|Moussaev:2,
    """),
    female_surnames=pool("""
        Ivanova:5, Smirnova:4, Kuznetsova|Kouznetsova:4, Popova:3,
        Vasilyeva|Vasilieva|Vassilieva:3, Petrova:3, Sokolova:3, Mikhailova|Mikhaylova:2,
        Novikova:2, Fedorova|Fiodorova:2, Morozova:2, Volkova:2, Alekseeva|Alexeeva:2,
        Lebedeva:2, Semenova|Semionova:2, Egorova|Yegorova:2, Pavlova:2, Kozlova:2,
        Stepanova:2, Nikolaeva:2, Andreeva|Andreyeva:2, Kadyrova|Kadirova:2,
        Magomedova:3, Umarova|Oumarova:2, Musaeva|Moussaeva:2,
    """),
    male=pool("""
        Aleksandr|Alexandr|Alexandre|Alexander:6, Sergei|Sergey|Serguei:5,
        Dmitry|Dmitri|Dmitriy:5, Andrei|Andrey:4, Alexei|Aleksei|Alexey:4,
        Mikhail|Mikhaïl:4, Ivan:3, Vladimir:3, Nikolai|Nikolay:3, Maxim|Maksim:3,
        Evgeny|Evgueni|Yevgeny:3, Igor:3, Oleg:2, Roman:2, Pavel:2, Artem|Artyom:2,
        Denis:2, Anton:2, Kirill:2, Ilya|Ilia:2, Viktor|Victor:2, Yuri|Iouri:2,
        Magomed|Magomet:4, Ruslan:3, Islam:2, Rustam:2, Shamil|Chamil:2, Ramzan:2,
        Akhmed|Ahmed:2, Adam:2, Timur:2,
    """),
    female=pool("""
        Elena|Yelena:5, Olga:4, Natalia|Natalya:4, Tatiana|Tatyana:4, Irina:4,
        Svetlana:3, Ekaterina|Yekaterina:3, Anna:4, Maria|Mariya:4, Yulia|Julia|Ioulia:3,
        Anastasia|Anastassia:3, Marina:3, Oksana:2, Victoria|Viktoria:2, Ksenia|Xenia:2,
        Daria|Darya:2, Lyudmila|Ludmila:2, Valentina:2, Galina:2, Larisa|Larissa:2,
        Zarema:2, Madina:3, Aminat:2, Khava|Hava:2, Luiza|Louiza:2, Milana:2, Fatima:2,
    """),
    first_name_counts=(95, 5, 0),
    neighbours=("99155", "99255", "99256", "99148"),
)
PORTUGAL = Origin(
    name="portugal",
    weight=2.5,
    countries=(("99139", 1),),
    surnames=pool("""
        Da Silva:10, Dos Santos:8, Ferreira:6, Pereira:6, Oliveira:5, Costa:4,
        Rodrigues:5, Martins:5, Sousa|Souza:4, Fernandes:5, Gonçalves|Goncalves:5,
        Gomes:4, Lopes:4, Marques:3, Alves:4, Almeida:3, Ribeiro:3, Pinto:3, Carvalho:3,
        Teixeira:3, Moreira:3, Correia|Correa:3, Mendes:3, Nunes:2, Soares:2, Vieira:2,
        Monteiro:2, Cardoso:2, Rocha:2, Neves:2, Coelho:2, Cunha:2, Pires:2, Ramos:2,
        Simões|Simoes:2, Antunes:2, Fonseca:2, Machado:2, Araújo|Araujo:2, Tavares:2,
        Da Costa:3, De Sousa:2, De Jesus:3, Da Cruz:2, De Oliveira:2, Do Nascimento:2,
    """),
    male=pool("""
        José|Jose:8, João|Joao:6, António|Antonio:7, Manuel:6, Francisco:4, Carlos:4,
        Paulo:4, Pedro:3, Luís|Luis:4, Jorge:3, Rui:3, Fernando:3, Miguel:3, Joaquim:3,
        Mário|Mario:3, Armando:2, Vítor|Vitor|Victor:3, Nuno:2, Ricardo:2, Sérgio|Sergio:2,
        Filipe|Felipe:2, Tiago|Thiago:2, Bruno:2, Hélder|Helder:2, Artur|Arthur:2,
        Domingos:2, Américo|Americo:2, Diogo:2, André|Andre:2, Hugo:2, Alberto:2,
    """),
    female=pool("""
        Maria:15, Ana:6, Fernanda:2, Paula:3, Sandra:3, Cristina:3, Isabel:3, Helena:2,
        Sónia|Sonia:3, Carla:3, Rosa:3, Conceição|Conceicao:3, Fátima|Fatima:3,
        Lurdes|Lourdes:2, Manuela:3, Teresa:3, Graça|Graca:2, Luísa|Luisa:2, Joana:2,
        Marta:2, Patrícia|Patricia:2, Susana:2, Catarina:2, Alice:2, Rita:2,
        Margarida:2, Filomena:2, Lúcia|Lucia:2, Inês|Ines:2, Sofia:2,
        Maria de Fátima|Maria de Fatima:3, Maria da Conceição|Maria da Conceicao:2,
    """),
    first_name_counts=(35, 50, 15),
    two_surnames=0.35,
    born_in_france=0.05,
    neighbours=("99416", "99396", "99395", "99134", "75056"),
)
BRAZIL = Origin(
    name="brazil",
    weight=2,
    countries=(("99416", 1),),
    surnames=pool("""
        Silva:6, Da Silva:6, Santos:6, Dos Santos:4, Oliveira:5, De Oliveira:2,
        Souza|Sousa:5, De Souza:2, Rodrigues:4, Ferreira:4, Alves:4, Pereira:4, Lima:4,
        Gomes:3, Costa:3, Ribeiro:3, Martins:3, Carvalho:3, Almeida:2, Lopes:2, Soares:2,
        Fernandes:2, Vieira:2, Barbosa:2, Rocha:2, Dias:2, Nascimento:2,
        Do Nascimento:2, Andrade:2, Moreira:2, Nunes:2, Marques:2, Machado:2, Mendes:2,
        Freitas:2, Cardoso:2, Ramos:2, Gonçalves|Goncalves:2, Teixeira:2,
        Araújo|Araujo:2, Moraes|Morais:2, Batista|Baptista:2,
    """),
    male=pool("""
        João|Joao:5, José|Jose:5, Antônio|Antonio|António:4, Francisco:4, Carlos:4,
        Paulo:4, Pedro:3, Lucas:3, Luiz|Luis|Luís:4, Marcos:3, Gabriel:3,
        Rafael|Raphael:3, Daniel:2, Marcelo:3, Bruno:3, Eduardo:2, Felipe|Filipe:3,
        Raimundo:2, Rodrigo:3, Manoel|Manuel:3, Mateus|Matheus:2, André|Andre:2,
        Fernando:2, Fábio|Fabio:2, Leonardo:2, Gustavo:2, Guilherme:2, Tiago|Thiago:3,
        Anderson:2, Diego:2, Leandro:2, Márcio|Marcio:2, Wellington|Welington:2,
        Jefferson|Jeferson:2, Wesley:2, Edson:2, Vinícius|Vinicius:2, Júnior|Junior:2,
    """),
    female=pool("""
        Maria:12, Ana:6, Francisca:3, Antônia|Antonia:2, Adriana:3, Juliana:3,
        Márcia|Marcia:3, Fernanda:3, Patrícia|Patricia:3, Aline:3, Sandra:2, Camila:3,
        Amanda:2, Bruna:2, Jéssica|Jessica:2, Letícia|Leticia:2, Júlia|Julia:2,
        Luciana:3, Vanessa:2, Mariana:2, Gabriela:2, Larissa:2, Cláudia|Claudia:2,
        Beatriz:2, Simone:2, Raimunda:2, Daiane|Dayane:2, Tatiane:2,
        Cristiane|Christiane:2, Priscila|Priscilla:2,
    """),
    first_name_counts=(55, 40, 5),
    two_surnames=0.5,
    neighbours=("99139", "99418", "99419", "97302"),
    residence=(*RESIDENCE, ("973", 15)),
)
ANDES = Origin(
    name="andes",
    weight=2,
    countries=(("99419", 4), ("99422", 3), ("99418", 2), ("99420", 2), ("99424", 2)),
    surnames=pool("""
        García|Garcia:5, Rodríguez|Rodriguez:5, Martínez|Martinez:4, Hernández|Hernandez:3,
        López|Lopez:5, González|Gonzalez:5, Pérez|Perez:4, Sánchez|Sanchez:4,
        Ramírez|Ramirez:4, Torres:3, Flores:4, Rivera:2, Gómez|Gomez:4, Díaz|Diaz:3,
        Quispe|Kispe:4, Mamani:3, Condori:2, Vargas:3, Rojas:3, Castillo:3, Morales:3,
        Gutiérrez|Gutierrez:3, Cruz:2, Jiménez|Jimenez:2, Muñoz|Munoz:2,
        Álvarez|Alvarez:2, Romero:2, Moreno:2, Herrera:2, Medina:2, Castro:2, Ortiz:2,
        Suárez|Suarez:2, Chávez|Chavez:2, Ramos:2, Mendoza:2, Ruiz:2,
        Vásquez|Vasquez|Vazquez:2, Huamán|Huaman:2, De La Cruz:2, Del Castillo:1,
        Ospina:1, Cardona:1, Zapata:1, Valencia:1, Osorio:1, Londoño|Londono:1,
    """),
    male=pool("""
        Juan:5, José|Jose:5, Luis:4, Carlos:4, Jorge:3, Miguel Ángel|Miguel Angel:2,
        Juan Carlos:3, Jhon|John:2, Wilson:2, Edwin:2, Andrés|Andres:3, Diego:2,
        Fernando:2, Javier:2, Alejandro:2, Julio:2, César|Cesar:2, Óscar|Oscar:2,
        Víctor|Victor:2, Jhonatan|Jonathan:2, Cristian|Christian:2, Édgar|Edgar:2,
        Freddy|Fredy:2, Mario:2, Pedro:2, Raúl|Raul:2, Sergio:2, Manuel:2, David:2,
        Alexander:2, Daniel:2,
    """),
    female=pool("""
        María|Maria:10, Rosa:3, Ana María|Ana Maria:2, Carmen:3, Gloria:2, Luz Marina:2,
        Yolanda:2, Sandra:2, Diana:2, Paola:2, Jenny|Yenny:2, Claudia:2, Martha|Marta:2,
        Blanca:2, Patricia:2, Andrea:2, Carolina:2, Paula:2, Daniela:2, Natalia:2,
        Lorena:2, Marisol:2, Elizabeth|Elisabeth:2, Luz:2, Lucía|Lucia:2, Liliana:2,
    """),
    first_name_counts=(45, 50, 5),
    two_surnames=0.6,
    kept_surname=0,
    neighbours=("99419", "99422", "99418", "99420", "99134"),
)
HAITI = Origin(
    name="haiti",
    weight=3,
    countries=(("99410", 1),),
    surnames=pool("""
        Joseph:8, Jean:6, Pierre:6, Louis:5, Jean-Baptiste|Jean Baptiste:4, Charles:4,
        Paul:3, Saint-Fleur|Saint Fleur|St Fleur|Sainfleur:2,
        Saint-Louis|Saint Louis|St Louis:2, Dorvil:1, Étienne|Etienne:3, Michel:3,
        Augustin:2, Alexis:2, Désir|Desir:2, Célestin|Celestin:2,
        Fils-Aimé|Fils Aimé|Fils Aime|Filsaime:2, Petit-Frère|Petit Frère|Petit Frere:2,
        François|Francois:3, Jacques:3, Philippe:2, Noël|Noel:2, Baptiste:2, Exantus:1,
        Pierre-Louis|Pierre Louis:2, Jean-Louis|Jean Louis:2, Toussaint:2, Cadet:2,
        Mérilus|Merilus:1, Estimé|Estime:1, Lubin:1, Métellus|Metellus:1,
    """),
    male=pool("""
        Jean:6, Jean-Robert|Jean Robert:2, Jean-Claude|Jean Claude:3,
        Jean-Pierre|Jean Pierre:3, Jean-Baptiste|Jean Baptiste:2, Wilson:2, Frantz|Franz:2,
        Ricardo:2, Wilner:2, Stevenson:2, Jackson:2, Pierre:3, Joseph:3, Jacques:2,
        Emmanuel:2, Ernst|Ernest:2, Fritz:2, Peterson:2, Mackenson|Makenson:2, Jimmy:2,
        Junior:2, Lesly|Leslie:1, Gérald|Gerald:2, Evens|Evans:2, Kervens:1, Edner:1,
        Ronald:1, Dieuseul|Dieu-Seul:1, Carl-Henry|Carl Henry:1,
    """),
    female=pool("""
        Marie:8, Marie-Claude|Marie Claude:2, Marie-Carmelle|Marie Carmelle:2,
        Marie-Ange|Marie Ange:2, Marie-Michelle|Marie Michelle:2,
        Rose-Marie|Rose Marie|Rosemarie:2, Jocelyne|Josseline:2, Guerline:2, Mirlande:2,
        Nadège|Nadege:2, Widline:2, Fabiola:2, Roseline|Rosline:2, Lovely:1, Nathalie:2,
        Stéphanie|Stephanie:1, Judith:1, Claudette:2, Mireille:2, Darline|Darlene:2,
        Magalie|Magali:1, Sherly|Shirley:1, Fabienne:1, Ketly|Ketlie:1, Yolette:1,
    """),
    first_name_counts=(35, 55, 10),
    swap_prone=True,
    year_only=0.03,
    born_in_france=0.05,
    french_places=GUIANA_PLACES + GUADELOUPE_PLACES,
    neighbours=("99408", "97302", "97101", "99407"),
    residence=(
        *(("973", 20), ("971", 20), ("972", 5), ("93", 10), ("75", 6), ("94", 5)),
        *(("91", 4), ("95", 4), ("77", 3)),
    ),
)
SRI_LANKA = Origin(
    name="sri-lanka",
    weight=2.5,
    countries=(("99235", 1),),
    surnames=pool("""
        Sivakumar:2, Thevarajah|Thevaraja:2, Kanagaratnam|Kanagaretnam:2,
        Selvarajah|Selvaraja|Selvarasa:3, Rajendran|Rajenthiran:3,
        Balasubramaniam|Balasubramanian:2, Sivanesan:2, Tharmalingam|Dharmalingam:2,
        Kandiah|Kandaiah:2, Navaratnam|Navaretnam:2, Ponnuthurai|Ponnudurai:2,
        Sinnathamby|Chinnathamby:2, Yogarajah|Yogaraja:2, Arumugam|Aroumougam:3,
        Vijayakumar|Vijeyakumar:2, Murugesu:2, Suntharalingam|Sundaralingam:2,
        Jeyakumar|Jayakumar:3, Mahendran|Mahenthiran:2, Krishnan|Kirushnan:2,
        Nadarajah|Nadaraja:3, Kumaran:2, Sivalingam:2, Thambirajah|Thambiraja:2,
        Rasiah|Rasaiah:2, Shanmugam|Sanmugam:2, Ratnam|Rathnam:2, Ganeshan|Ganesan:2,
        Selvakumar:2,
    """),
    male=pool("""
        Sivakumar:2, Kumar:2, Rajan:2, Suresh:2, Ramesh:2, Mahendran:2, Ganesh:2,
        Tharsan|Dharshan|Tharshan:2, Kajan:2, Thushanthan|Thusanthan:2,
        Jeyanthan|Jayanthan:2, Nirojan|Niroshan:2, Sutharsan|Sudharsan:2,
        Pirashanth|Prashanth:2, Kirushanth|Krishanth:2, Sathees|Satheesh:2,
        Vinoth|Vinod:2, Rajeevan|Rajivan:2, Kannan:1, Murali:1, Senthuran|Senthooran:1,
        Arun:2, Gajan:1, Ravi:1, Vasanthan:1, Mayuran:1, Dinesh:1,
    """),
    female=pool("""
        Shanthi|Santhi:2, Kalaivani:2, Tharshini|Dharshini|Tharsini:2, Nirmala:2,
        Vasanthi|Vasanthy:2, Kavitha|Kavita:2, Suganthi|Sugandhi:2, Jeyanthi|Jayanthi:2,
        Thulasi:1, Luxmi|Lakshmi|Laxmi:2, Sumathi|Sumathy:2, Priya:2, Sinthuja|Sinthuya:2,
        Thivya|Divya:2, Nithya|Nithiya:1, Sharmila:1, Tharani|Dharani:1, Selvi:1,
        Janani|Jenani:1, Saranya:1, Abirami:1,
    """),
    first_name_counts=(90, 10, 0),
    swap_prone=True,
    neighbours=("99223", "99390"),
)
AFGHANISTAN = Origin(
    name="afghanistan",
    weight=5,
    countries=(("99212", 1),),
    surnames=pool("""
        Ahmadi:5, Mohammadi|Mohamadi|Muhammadi:5, Rahimi:4, Hussaini|Hosseini|Husseini:4,
        Noori|Nouri|Nuri:3, Karimi:4, Azizi:3, Sultani:2, Safi:2, Stanikzai|Stanekzai:2,
        Amiri:3, Hakimi:2, Jalali:2, Wardak:2, Haidari|Heydari:2, Sharifi:2,
        Rezaei|Rezai:2, Habibi:2, Sadat:2, Ahmadzai:2, Khan:3, Nazari:2,
        Yousufzai|Yusufzai:2, Rahmani:2, Akbari:2, Niazi:2, Jan:2, Shinwari:2,
        Qaderi|Qadiri:1, Samadi:1, Omari|Umari:1, Popal:1, Durrani:1,
    """),
    male=pool("""
        Mohammad|Mohamad|Muhammad|Mohammed:12, Ahmad|Ahmed:6, Ali:5, Hamid:3, Rahim:2,
        Karim:2, Jawad|Javad:2, Sayed|Sayyed|Syed:4, Hussain|Hussein|Hossein:4,
        Najibullah|Najib Ullah|Najibulla:2, Zabihullah|Zabiullah:2,
        Rahmatullah|Rahmat Ullah:2, Hamidullah|Hamid Ullah:2, Sharif:2, Noor|Nour|Nur:2,
        Abdullah|Abdallah:3, Abdul Rahman|Abdulrahman:2, Abdul Karim|Abdulkarim:2,
        Mirwais|Mir Wais:2, Farid:2, Jamshid|Jamshed:2, Naveed|Navid|Nawid:2,
        Sohail|Suhail:2, Bilal:2, Omid|Umid:2, Reza:2, Habib:2, Mustafa:2, Yasin:2,
        Idris|Idrees:2, Samiullah|Sami Ullah:2, Asadullah|Asad Ullah:2,
        Wahid|Waheed:2, Masoud|Massoud|Masood:2, Nasir|Naser|Nasser:2, Ismail:2,
    """),
    female=pool("""
        Fatima|Fatemah|Fatema:4, Maryam|Mariam:4, Zahra|Zohra:4, Sakina:2,
        Parwana|Parvaneh:2, Shabana:2, Nazia:2, Farzana:2, Marzia:2, Masooma|Masuma:2,
        Khadija:2, Laila|Leila|Layla:2, Nargis|Narges:2, Freshta|Fereshta:2, Roya:2,
        Mina:2, Nasrin|Nasreen:2, Soraya|Suraya:2, Zainab|Zeinab:2, Shukria|Shokria:1,
    """),
    first_name_counts=(85, 15, 0),
    swap_prone=True,
    year_only=0.35,
    january_first=0.25,
    neighbours=("99213", "99204", "99258"),
)
MIDDLE_EAST = Origin(
    name="middle-east",
    weight=3,
    countries=(("99206", 3), ("99203", 2), ("99343", 2)),
    surnames=pool("""
        Al Ahmad:3, Al Hassan:3, Al Khalil:2, Al Ali:3, Al Hussein:2, Al Obeidi:2,
        Al Mohammad:2, Hamdan:2, Haddad:2, Khalil:2, Ibrahim:3, Mahmoud|Mahmud:3,
        Saleh|Salih:2, Hussein|Hussain:3, Abdallah|Abdullah:3, Othman|Osman:2,
        Mohamed|Mohammed:3, Adam:2, Ahmed|Ahmad:3, Yousif|Yousef:2, Abakar:2, Ismail:2,
        Omar|Umar:2, Hassan:2, Suleiman|Soliman:2, Abdelrahman|Abdulrahman:2,
        Al Zoubi:2, Darwish|Darwiche:2, Kassem|Qassem|Qasim:2, Mansour:2, Issa:2,
    """),
    male=pool("""
        Mohammad|Mohammed|Muhammad|Mohamad|Mohamed:10, Ahmad|Ahmed:6, Ali:5, Omar|Umar:4,
        Khaled|Khalid:4, Mahmoud|Mahmud:3, Hassan|Hasan:3, Hussein|Hussain:3,
        Abdullah|Abdallah:3, Ibrahim:3, Mustafa|Moustafa|Mostafa:3,
        Yousef|Youssef|Yusuf:3, Abdulrahman|Abdel Rahman|Abdelrahman:3, Adam:2,
        Osman|Othman:2, Hamza:2, Bilal:2, Ammar:2, Tarek|Tariq:2, Walid|Waleed:2, Anas:2,
        Yasser|Yaser:2, Haidar|Haider:2, Ismail:2, Fadi:1, Rami:1, Samer:1,
    """),
    female=pool("""
        Fatima|Fatimah|Fatma:4, Maryam|Mariam:3, Aisha|Aicha|Aïcha:3,
        Zainab|Zeinab|Zaynab:3, Amal:2, Hiba|Heba:2, Rasha:2, Noor|Nour:2, Sara|Sarah:2,
        Rana:2, Huda|Houda:2, Hanan:2, Amina:2, Khadija:2, Asmaa|Asma:2, Nada:2,
        Layla|Leila:2, Reem|Rim:2, Yasmin|Yasmine:2,
    """),
    first_name_counts=(80, 20, 0),
    year_only=0.08,
    january_first=0.05,
    neighbours=("99206", "99203", "99205", "99222", "99343"),
)
ALBANIA = Origin(
    name="albania",
    weight=2.5,
    countries=(("99125", 3), ("99157", 2)),
    surnames=pool("""
        Hoxha|Hoxa|Hodja|Hodža:4, Shehu:3, Berisha|Berishaj:4, Krasniqi|Krasniki|Krasnici:4,
        Gashi:4, Dervishi:2, Leka:2, Kola:2, Marku:2, Hysa:2, Morina:2, Shala:2,
        Bytyqi|Bytyci|Bytyçi:2, Kelmendi:2, Rama:2, Ahmeti:2, Osmani:2, Hasani:2,
        Xhaferi|Djaferi|Xhafer:2, Çela|Cela|Tchela:2, Prifti:1, Bajrami:2, Mehmeti:2, Sadiku:1,
    """),
    male=pool("""
        Arben:3, Besnik:2, Gentian|Gentjan:2, Ardit:2, Erion:2, Elton:2, Klodian:2,
        Ermal:2, Dritan:2, Ilir:3, Artan:2, Agron:2, Fatmir:2, Bujar:2, Arjan:2, Valon:2,
        Blerim:2, Driton:2, Alban:2, Endrit:2, Arbër|Arber:2, Gëzim|Gezim:2,
        Muhamet|Mehmet:2, Bekim:2, Skënder|Skender:1,
    """),
    female=pool("""
        Albana:2, Elona:2, Mirela:2, Anila:2, Blerina:2, Ermira:2, Jonida:2, Arta:2,
        Drita:2, Fatmire|Fatmira:2, Vjollca|Violca:2, Lindita:2, Mimoza|Mimosa:2,
        Valbona:2, Edona:2, Besa:2, Merita:2, Donika:1, Teuta:1, Kaltrina:1,
    """),
    first_name_counts=(90, 10, 0),
    neighbours=("99125", "99157", "99156", "99127"),
)

ORIGINS = (
    *(ALGERIA, MOROCCO, TUNISIA, MAURITANIA, WEST_AFRICA, IVORY_COAST, CENTRAL_AFRICA),
    *(COMOROS, TURKEY, CHINA, VIETNAM, ROMANIA, UKRAINE, RUSSIA, PORTUGAL, BRAZIL),
    *(ANDES, HAITI, SRI_LANKA, AFGHANISTAN, MIDDLE_EAST, ALBANIA),
)
